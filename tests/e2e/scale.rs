//! End-to-end: many services at once, within ECS's rate limits — the fake
//! throttling as ECS does (AWS's token bucket per category of actions).

use crate::common::*;

/// `count` services `s1`… in `prod`, one task each, all running `web:1`.
async fn many_services(count: usize) -> (fake_ecs::FakeEcs, Vec<String>) {
    let fake = bare_fake().await;
    let arn = fake.seed_task_definition(web_task_definition(), vec![]);
    let names: Vec<String> = (1..=count).map(|i| format!("s{i}")).collect();
    for name in &names {
        fake.add_service(CLUSTER, name, &arn, 1);
    }
    (fake, names)
}

#[tokio::test]
async fn two_hundred_services_deploy_within_ecs_rate_limits() {
    // 200 UpdateService calls are 150 more than ECS's burst of 50, at 5 a
    // second: about 30 s that the run must wait out rather than be refused.
    let (fake, names) = many_services(200).await;
    fake.throttle_like_ecs();
    let image = format!("{REPO}:v2");
    let mut args = vec!["-c", CLUSTER, "-i", &image, "--output", "json"];
    for name in &names {
        args.extend(["-n", name.as_str()]);
    }
    let run = deploy(&fake, &args).await;
    run.assert_code(0);
    let throttled: Vec<String> = fake
        .requests()
        .into_iter()
        .filter(|r| r.throttled)
        .map(|r| r.operation)
        .collect();
    assert_eq!(throttled, Vec::<String>::new(), "no call was throttled");
    assert!(!run.stderr.contains("retrying"), "{}", run.stderr);
    assert_eq!(fake.count("UpdateService"), 200);
    assert_eq!(fake.count("RegisterTaskDefinition"), 1);
    for name in &names {
        assert_eq!(service_revision(&fake, name), "web:2", "{name}");
    }
    let json = json_result(&run);
    assert_eq!(json["result"], "success");
    // What each service says comes in the order the services were named.
    let updated: Vec<&str> = run
        .stderr
        .lines()
        .filter(|line| line.contains("Service updated: deployment"))
        .map(|line| line.split(']').next().unwrap())
        .collect();
    let named: Vec<String> = names.iter().map(|n| format!("[{n}")).collect();
    assert_eq!(updated, named);
}
