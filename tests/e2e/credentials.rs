//! End-to-end: every source of the credential chain, with wiremock playing
//! instance metadata, a container credentials endpoint and STS, and the fake
//! ECS checking which keys each request was signed with.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use crate::common::*;
use fake_ecs::{FakeEcs, ACCESS_KEY, SECRET_KEY};
use wiremock::matchers::{body_string_contains, header, header_exists, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const FAR_FUTURE: &str = "2099-01-01T00:00:00Z";

/// `-c prod -n web -i REPO:v2 -D 0`: a deploy that needs no rollout.
fn deploy_command(fake: &FakeEcs, extra: &[&str]) -> tokio::process::Command {
    let image = format!("{REPO}:v2");
    let mut args = vec!["-c", CLUSTER, "-n", SERVICE, "-i", &image, "-D", "0"];
    args.extend_from_slice(extra);
    let mut command = command(fake, &args);
    without_keys(&mut command);
    command
}

/// The access keys and session tokens the fake ECS saw, one per request.
fn signers(fake: &FakeEcs) -> Vec<(Option<String>, Option<String>)> {
    fake.requests()
        .into_iter()
        .map(|r| (r.access_key, r.security_token))
        .collect()
}

#[track_caller]
fn assert_all_signed_by(fake: &FakeEcs, key: &str, token: Option<&str>) {
    let signers = signers(fake);
    assert!(!signers.is_empty());
    for (k, t) in &signers {
        assert_eq!(
            (k.as_deref(), t.as_deref()),
            (Some(key), token),
            "{signers:?}"
        );
    }
}

fn credentials_json(key: &str, token: &str, expiration: &str) -> serde_json::Value {
    serde_json::json!({
        "Code": "Success", "Type": "AWS-HMAC", "LastUpdated": "2026-11-27T00:00:00Z",
        "AccessKeyId": key, "SecretAccessKey": format!("secret-of-{key}"), "Token": token, "Expiration": expiration
    })
}

/// Instance metadata that insists on IMDSv2: no token, 401.
async fn imds(key: &str, token: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .and(path("/latest/api/token"))
        .and(header("x-aws-ec2-metadata-token-ttl-seconds", "21600"))
        .respond_with(ResponseTemplate::new(200).set_body_string("IMDS-SESSION"))
        .mount(&server)
        .await;
    let authorised = |p: &str| {
        Mock::given(method("GET"))
            .and(path(p.to_string()))
            .and(header("x-aws-ec2-metadata-token", "IMDS-SESSION"))
    };
    authorised("/latest/meta-data/iam/security-credentials/")
        .respond_with(ResponseTemplate::new(200).set_body_string("ecs-runner-role\n"))
        .mount(&server)
        .await;
    authorised("/latest/meta-data/iam/security-credentials/ecs-runner-role")
        .respond_with(
            ResponseTemplate::new(200).set_body_json(credentials_json(key, token, FAR_FUTURE)),
        )
        .mount(&server)
        .await;
    authorised("/latest/meta-data/placement/region")
        .respond_with(ResponseTemplate::new(200).set_body_string("us-east-1"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(401))
        .with_priority(10)
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn instance_metadata_v2_gives_credentials_and_region() {
    let fake = fake().await;
    fake.accept_access_key("ASIAIMDSKEY");
    let imds = imds("ASIAIMDSKEY", "imds-token").await;
    let mut command = deploy_command(&fake, &[]);
    command
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env_remove("AWS_REGION")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.uri());
    let run = run_command(command).await;
    run.assert_code(0);
    assert_all_signed_by(&fake, "ASIAIMDSKEY", Some("imds-token"));
    assert!(!run.output().contains("imds-token"));

    // --aws-instance-profile skips everything else in the chain.
    let mut command = deploy_command(&fake, &["--aws-instance-profile"]);
    command
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env_remove("AWS_EC2_METADATA_DISABLED")
        .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.uri());
    run_command(command).await.assert_code(0);
    assert_eq!(
        signers(&fake).last().unwrap().0.as_deref(),
        Some("ASIAIMDSKEY")
    );
}

#[tokio::test]
async fn imdsv1_fallback_only_when_allowed() {
    let server = MockServer::start().await;
    Mock::given(method("PUT"))
        .respond_with(ResponseTemplate::new(403))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/latest/meta-data/iam/security-credentials/"))
        .respond_with(ResponseTemplate::new(200).set_body_string("old-role"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/latest/meta-data/iam/security-credentials/old-role"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(credentials_json("ASIAV1", "v1-token", FAR_FUTURE)),
        )
        .mount(&server)
        .await;
    let fake = fake().await;
    fake.accept_access_key("ASIAV1");
    let with_endpoint = |disable_v1: bool| {
        let mut command = deploy_command(&fake, &[]);
        command
            .env_remove("AWS_EC2_METADATA_DISABLED")
            .env("AWS_EC2_METADATA_SERVICE_ENDPOINT", server.uri());
        if disable_v1 {
            command.env("AWS_EC2_METADATA_V1_DISABLED", "true");
        }
        command
    };
    run_command(with_endpoint(false)).await.assert_code(0);
    assert_all_signed_by(&fake, "ASIAV1", Some("v1-token"));

    let run = run_command(with_endpoint(true)).await;
    run.assert_code(2);
    run.assert_stderr_has("no AWS credentials found");
    run.assert_stderr_has("IMDSv1 is disabled");
}

/// A container credentials endpoint that checks the Authorization header and
/// counts its callers; `expiration` decides how long its credentials live.
struct ContainerEndpoint {
    hits: Arc<AtomicU32>,
    expiration: String,
    /// Answers after this many fail with HTTP 500.
    fails_after: u32,
}

impl Respond for ContainerEndpoint {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let authorised = request
            .headers
            .get("authorization")
            .is_some_and(|v| v == "Bearer rotating-token");
        if !authorised {
            return ResponseTemplate::new(403).set_body_string("bad token");
        }
        let n = self.hits.fetch_add(1, Ordering::SeqCst) + 1;
        if n > self.fails_after {
            return ResponseTemplate::new(500).set_body_string("agent gone");
        }
        ResponseTemplate::new(200).set_body_json(credentials_json(
            "ASIACONTAINER",
            &format!("container-token-{n}"),
            &self.expiration,
        ))
    }
}

async fn container_endpoint(expiration: String) -> (MockServer, Arc<AtomicU32>) {
    failing_container_endpoint(expiration, u32::MAX).await
}

async fn failing_container_endpoint(
    expiration: String,
    fails_after: u32,
) -> (MockServer, Arc<AtomicU32>) {
    let server = MockServer::start().await;
    let hits = Arc::new(AtomicU32::new(0));
    Mock::given(method("GET"))
        .and(path("/creds"))
        .respond_with(ContainerEndpoint {
            hits: hits.clone(),
            expiration,
            fails_after,
        })
        .mount(&server)
        .await;
    (server, hits)
}

#[tokio::test]
async fn container_credentials_with_a_token_file() {
    let (server, hits) = container_endpoint(FAR_FUTURE.into()).await;
    let fake = fake().await;
    fake.accept_access_key("ASIACONTAINER");
    let dir = TempDir::new("container");
    let token_file = dir.write("token", "Bearer rotating-token\n");
    let mut command = deploy_command(&fake, &[]);
    command
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/creds", server.uri()),
        )
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", &token_file);
    run_command(command).await.assert_code(0);
    assert_all_signed_by(&fake, "ASIACONTAINER", Some("container-token-1"));
    assert_eq!(
        hits.load(Ordering::SeqCst),
        1,
        "long-lived credentials are fetched once"
    );

    // A selected source that refuses is reported as that, not as "no credentials".
    let mut command = deploy_command(&fake, &[]);
    command
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/creds", server.uri()),
        )
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer wrong");
    let run = run_command(command).await;
    run.assert_code(2);
    run.assert_stderr_has("container credentials endpoint");
    run.assert_stderr_has("answered HTTP 403");
    assert!(!run.output().contains("Bearer wrong"));
}

/// A deploy that waits for its rollout, signed with what the container
/// endpoint `server` hands out.
fn waiting_on_container_credentials(
    fake: &FakeEcs,
    server: &MockServer,
    extra: &[&str],
) -> tokio::process::Command {
    fake.accept_access_key("ASIACONTAINER");
    let image = format!("{REPO}:v2");
    let mut args = vec!["-c", CLUSTER, "-n", SERVICE, "-i", &image];
    args.extend_from_slice(extra);
    let mut command = command(fake, &args);
    without_keys(&mut command)
        .env(
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{}/creds", server.uri()),
        )
        .env("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Bearer rotating-token");
    command
}

#[tokio::test]
async fn short_lived_credentials_are_refreshed_during_the_wait() {
    let soon = time_from_now(120);
    let (server, hits) = container_endpoint(soon).await;
    let fake = fake().await;
    let command = waiting_on_container_credentials(&fake, &server, &[]);
    run_command(command).await.assert_code(0);
    let tokens: Vec<String> = signers(&fake).into_iter().filter_map(|(_, t)| t).collect();
    let distinct: std::collections::HashSet<&String> = tokens.iter().collect();
    assert!(
        distinct.len() > 1,
        "credentials were never refreshed: {tokens:?}"
    );
    assert!(hits.load(Ordering::SeqCst) > 1);
}

#[tokio::test]
async fn credentials_lost_mid_wait_make_a_blind_wait_not_a_plain_timeout() {
    // Credentials that expire in a few seconds, from an endpoint that stops
    // answering after the first few requests.
    let (server, _) = failing_container_endpoint(time_from_now(3), 4).await;
    let fake = fake().await;
    fake.set_rollout(CLUSTER, SERVICE, fake_ecs::Rollout::Stuck);
    let command =
        waiting_on_container_credentials(&fake, &server, &["-t", "6", "--poll-interval", "0.2"]);
    let run = run_command(command).await;
    run.assert_code(1);
    run.assert_stderr_has("the wait went blind:");
    run.assert_stderr_has("nothing was seen of the deployment for its last");
    run.assert_stderr_has("container credentials endpoint");
    run.assert_stderr_has("answered HTTP 500");
}

/// An ISO 8601 time `seconds` from now (no date crate: civil-from-days).
fn time_from_now(seconds: u64) -> String {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + seconds;
    let (days, rest) = ((t / 86_400) as i64, t % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

fn sts_reply(action: &str, key: &str, token: &str) -> String {
    format!(
        r#"<{action}Response xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><{action}Result><Credentials><AccessKeyId>{key}</AccessKeyId><SecretAccessKey>secret-of-{key}</SecretAccessKey><SessionToken>{token}</SessionToken><Expiration>{FAR_FUTURE}</Expiration></Credentials><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/deployer/s</Arn><AssumedRoleId>AROA:s</AssumedRoleId></AssumedRoleUser></{action}Result><ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></{action}Response>"#
    )
}

/// A deploy with the fake's keys in the environment and `-a …role/deployer`.
fn assume_deployer(fake: &FakeEcs, sts: &MockServer) -> tokio::process::Command {
    let mut command = deploy_command(fake, &["-a", "arn:aws:iam::123456789012:role/deployer"]);
    command
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .env("AWS_ENDPOINT_URL_STS", sts.uri());
    command
}

#[tokio::test]
async fn assume_role_with_the_found_credentials() {
    let sts = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("Action=AssumeRole&"))
        .and(body_string_contains(
            "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fdeployer",
        ))
        .and(body_string_contains("RoleSessionName=ecs-deploy-"))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(200).set_body_string(sts_reply(
            "AssumeRole",
            "ASIAROLE",
            "role-token",
        )))
        .mount(&sts)
        .await;
    let fake = fake().await;
    fake.accept_access_key("ASIAROLE");
    let run = run_command(assume_deployer(&fake, &sts)).await;
    run.assert_code(0);
    assert_all_signed_by(&fake, "ASIAROLE", Some("role-token"));
    let sts_calls = sts.received_requests().await.unwrap();
    assert_eq!(sts_calls.len(), 1);
    let auth = sts_calls[0]
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        auth.contains(&format!("Credential={ACCESS_KEY}/"))
            && auth.contains("/us-east-1/sts/aws4_request"),
        "{auth}"
    );

    // An STS refusal is shown with its code and message.
    sts.reset().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(403).set_body_string(
            "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized to perform: sts:AssumeRole</Message></Error></ErrorResponse>",
        ))
        .mount(&sts)
        .await;
    let run = run_command(assume_deployer(&fake, &sts)).await;
    run.assert_code(2);
    run.assert_stderr_has("cannot assume role arn:aws:iam::123456789012:role/deployer");
    run.assert_stderr_has("AccessDenied: User is not authorized to perform: sts:AssumeRole");
}

#[tokio::test]
async fn web_identity_is_exchanged_unsigned() {
    let sts = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("Action=AssumeRoleWithWebIdentity"))
        .and(body_string_contains("WebIdentityToken=oidc-jwt-from-ci"))
        .and(body_string_contains("RoleSessionName=gha-run-7"))
        .respond_with(ResponseTemplate::new(200).set_body_string(sts_reply(
            "AssumeRoleWithWebIdentity",
            "ASIAWEB",
            "web-token",
        )))
        .mount(&sts)
        .await;
    let fake = fake().await;
    fake.accept_access_key("ASIAWEB");
    let dir = TempDir::new("oidc");
    let token_file = dir.write("token", "oidc-jwt-from-ci\n");
    let mut command = deploy_command(&fake, &["-v"]);
    command
        .env("AWS_WEB_IDENTITY_TOKEN_FILE", &token_file)
        .env("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/gha")
        .env("AWS_ROLE_SESSION_NAME", "gha-run-7")
        .env("AWS_ENDPOINT_URL_STS", sts.uri());
    let run = run_command(command).await;
    run.assert_code(0);
    run.assert_stderr_has("[aws] credentials from web identity");
    assert_all_signed_by(&fake, "ASIAWEB", Some("web-token"));
    let calls = sts.received_requests().await.unwrap();
    assert!(
        calls[0].headers.get("authorization").is_none(),
        "web identity must not be signed"
    );
    for secret in ["oidc-jwt-from-ci", "web-token", "secret-of-ASIAWEB"] {
        assert!(!run.output().contains(secret), "{secret} printed");
    }
}

#[tokio::test]
async fn profiles_from_files() {
    let dir = TempDir::new("profiles");
    let script = dir.write(
        "creds.sh",
        r#"echo '{"Version": 1, "AccessKeyId": "AKIAPROCESS", "SecretAccessKey": "process-secret"}'"#,
    );
    let config = dir.write(
        "config",
        &format!("[default]\nregion = eu-west-1\n\n[profile deploy]\nregion = us-east-1\n\n[profile tool]\nregion = us-east-1\ncredential_process = sh {script}\n\n[profile broken]\nregion = us-east-1\ncredential_process = sh -c 'echo token expired >&2; exit 4'\n"),
    );
    let credentials = dir.write(
        "credentials",
        &format!("[default]\naws_access_key_id = AKIAWRONGDEFAULT\naws_secret_access_key = wrong\n\n[deploy]\naws_access_key_id = {ACCESS_KEY}\naws_secret_access_key = {SECRET_KEY}\n"),
    );
    let fake = fake().await;
    fake.accept_access_key("AKIAPROCESS");
    let with_files = |extra: &[&str]| {
        let mut command = deploy_command(&fake, extra);
        command
            .env_remove("AWS_REGION")
            .env("AWS_CONFIG_FILE", &config)
            .env("AWS_SHARED_CREDENTIALS_FILE", &credentials);
        command
    };

    // -p picks the named profile (and its region) over [default]'s wrong keys.
    run_command(with_files(&["-p", "deploy"]))
        .await
        .assert_code(0);
    assert_eq!(
        signers(&fake).last().unwrap().0.as_deref(),
        Some(ACCESS_KEY)
    );
    // AWS_PROFILE does the same.
    let mut command = with_files(&[]);
    command.env("AWS_PROFILE", "tool");
    run_command(command).await.assert_code(0);
    assert_eq!(
        signers(&fake).last().unwrap().0.as_deref(),
        Some("AKIAPROCESS")
    );
    // Environment keys come before any profile.
    let mut command = with_files(&["-p", "tool"]);
    command
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY);
    run_command(command).await.assert_code(0);
    assert_eq!(
        signers(&fake).last().unwrap().0.as_deref(),
        Some(ACCESS_KEY)
    );

    let run = run_command(with_files(&["-p", "broken"])).await;
    run.assert_code(2);
    run.assert_stderr_has("credential_process of profile 'broken'");
    run.assert_stderr_has("token expired");

    let run = run_command(with_files(&["-p", "nope"])).await;
    run.assert_code(2);
    run.assert_stderr_has("profile 'nope' was not found in");
    run.assert_stderr_has(&config);
    assert_eq!(
        fake.active_revisions("web"),
        [1, 2, 3, 4],
        "failed runs registered nothing"
    );
}

/// Lower-case hex SHA-1: the AWS CLI's name for a token cache file.
fn sha1_hex(text: &str) -> String {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, text.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An IAM Identity Center portal that hands out `key` for `token`.
async fn identity_center(token: &str, key: &str) -> MockServer {
    identity_center_expiring(token, key, serde_json::json!(4_102_444_800_000u64)).await
}

/// [`identity_center`] whose role credentials have `expiration`.
async fn identity_center_expiring(
    token: &str,
    key: &str,
    expiration: serde_json::Value,
) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/federation/credentials"))
        .and(header("x-amz-sso_bearer_token", token))
        .and(wiremock::matchers::query_param("role_name", "Deploy"))
        .and(wiremock::matchers::query_param(
            "account_id",
            "123456789012",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "roleCredentials": {
                "accessKeyId": key, "secretAccessKey": format!("secret-of-{key}"),
                "sessionToken": format!("session-of-{key}"), "expiration": expiration
            }
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(401)
                .set_body_json(serde_json::json!({
                    "message": "Session token not found or invalid"
                }))
                .insert_header("x-amzn-errortype", "UnauthorizedException"),
        )
        .mount(&server)
        .await;
    server
}

/// A home with `.aws/config` holding `config` and, in the token cache, the
/// file for `cache_key` holding `cached`; the deploy command that uses it.
fn with_sso_home(
    fake: &FakeEcs,
    dir: &TempDir,
    config: &str,
    cache_key: &str,
    cached: &serde_json::Value,
    server: &MockServer,
    extra: &[&str],
) -> (tokio::process::Command, std::path::PathBuf) {
    let home = std::path::PathBuf::from(dir.write("keep", ""))
        .parent()
        .unwrap()
        .to_path_buf();
    std::fs::create_dir_all(home.join(".aws/sso/cache")).unwrap();
    std::fs::write(home.join(".aws/config"), config).unwrap();
    let cache_file = home
        .join(".aws/sso/cache")
        .join(format!("{}.json", sha1_hex(cache_key)));
    std::fs::write(&cache_file, cached.to_string()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&cache_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let mut command = deploy_command(fake, extra);
    command
        .env("HOME", &home)
        .env("AWS_ENDPOINT_URL_SSO", server.uri())
        .env("AWS_ENDPOINT_URL_SSO_OIDC", server.uri());
    (command, cache_file)
}

const SSO_SESSION_CONFIG: &str = "[profile dev]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Deploy\nregion = us-east-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\nsso_registration_scopes = sso:account:access\n";

#[tokio::test]
async fn identity_center_profiles_legacy_and_session() {
    // The legacy form: the token cache is named after the start URL.
    let server = identity_center("legacy-token", "ASIASSOLEGACY").await;
    let fake = fake().await;
    fake.accept_access_key("ASIASSOLEGACY");
    let dir = TempDir::new("sso-legacy");
    let config = "[profile old]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\nsso_account_id = 123456789012\nsso_role_name = Deploy\n";
    let cached = serde_json::json!({"accessToken": "legacy-token", "expiresAt": time_from_now(3600), "startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1"});
    let (command, _) = with_sso_home(
        &fake,
        &dir,
        config,
        "https://corp.awsapps.com/start",
        &cached,
        &server,
        &["-p", "old", "-v"],
    );
    let run = run_command(command).await;
    run.assert_code(0);
    assert_all_signed_by(&fake, "ASIASSOLEGACY", Some("session-of-ASIASSOLEGACY"));
    run.assert_stderr_has("[aws] credentials from profile 'old'");
    for secret in [
        "legacy-token",
        "secret-of-ASIASSOLEGACY",
        "session-of-ASIASSOLEGACY",
    ] {
        assert!(
            !run.output().contains(secret),
            "{secret} shown:\n{}",
            run.output()
        );
    }

    // An sso_session: the cache is named after the session.
    let server = identity_center("session-token", "ASIASSOSESSION").await;
    let fake = self::fake().await;
    fake.accept_access_key("ASIASSOSESSION");
    let dir = TempDir::new("sso-session");
    let cached =
        serde_json::json!({"accessToken": "session-token", "expiresAt": time_from_now(3600)});
    let (command, _) = with_sso_home(
        &fake,
        &dir,
        SSO_SESSION_CONFIG,
        "corp",
        &cached,
        &server,
        &["-p", "dev"],
    );
    run_command(command).await.assert_code(0);
    assert_all_signed_by(&fake, "ASIASSOSESSION", Some("session-of-ASIASSOSESSION"));
}

#[tokio::test]
async fn a_token_near_its_expiry_is_refreshed_and_written_back() {
    let server = identity_center("fresh-token", "ASIASSOFRESH").await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("\"grantType\":\"refresh_token\""))
        .and(body_string_contains("\"refreshToken\":\"refresh-1\""))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "accessToken": "fresh-token", "expiresIn": 28800, "refreshToken": "refresh-2", "tokenType": "Bearer"
        })))
        .mount(&server)
        .await;
    let fake = fake().await;
    fake.accept_access_key("ASIASSOFRESH");
    let dir = TempDir::new("sso-refresh");
    let cached = serde_json::json!({
        "startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1",
        "accessToken": "old-token", "expiresAt": time_from_now(300),
        "refreshToken": "refresh-1", "clientId": "client-1", "clientSecret": "client-secret-1",
        "registrationExpiresAt": time_from_now(86_400)
    });
    let (command, cache_file) = with_sso_home(
        &fake,
        &dir,
        SSO_SESSION_CONFIG,
        "corp",
        &cached,
        &server,
        &["-p", "dev", "-v"],
    );
    let run = run_command(command).await;
    run.assert_code(0);
    assert_all_signed_by(&fake, "ASIASSOFRESH", Some("session-of-ASIASSOFRESH"));
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cache_file).unwrap()).unwrap();
    assert_eq!(written["accessToken"], "fresh-token");
    assert_eq!(written["refreshToken"], "refresh-2");
    assert_eq!(
        written["clientSecret"], "client-secret-1",
        "other fields kept"
    );
    assert_eq!(written["startUrl"], "https://corp.awsapps.com/start");
    assert!(written["expiresAt"].as_str().unwrap() > time_from_now(3600).as_str());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&cache_file).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the file keeps its mode");
    }
    for secret in [
        "old-token",
        "fresh-token",
        "refresh-1",
        "refresh-2",
        "client-secret-1",
    ] {
        assert!(!run.output().contains(secret), "{secret} shown");
    }
}

#[tokio::test]
async fn an_expired_sign_in_says_how_to_sign_in_again() {
    let server = identity_center("never", "ASIANEVER").await;
    let fake = fake().await;
    let dir = TempDir::new("sso-expired");
    let config = "[profile old]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = eu-west-1\nsso_account_id = 123456789012\nsso_role_name = Deploy\n";
    let cached =
        serde_json::json!({"accessToken": "stale-token", "expiresAt": "2020-01-01T00:00:00Z"});
    let (command, _) = with_sso_home(
        &fake,
        &dir,
        config,
        "https://corp.awsapps.com/start",
        &cached,
        &server,
        &["-p", "old"],
    );
    let run = run_command(command).await;
    run.assert_code(2);
    run.assert_stderr_has("run `aws sso login --profile old`");
    assert!(fake.requests().is_empty());
    assert!(!run.output().contains("stale-token"));

    // An sso_session without a refresh token names the session to sign in to.
    let dir = TempDir::new("sso-expired-session");
    let (command, _) = with_sso_home(
        &fake,
        &dir,
        SSO_SESSION_CONFIG,
        "corp",
        &cached,
        &server,
        &["-p", "dev"],
    );
    let run = run_command(command).await;
    run.assert_code(2);
    run.assert_stderr_has("run `aws sso login --sso-session corp`");
}

#[tokio::test]
async fn an_identity_center_profile_as_the_source_of_a_role() {
    let server = identity_center("session-token", "ASIASSOBASE").await;
    let sts = MockServer::start().await;
    Mock::given(method("POST"))
        .and(body_string_contains("Action=AssumeRole&"))
        .and(header_exists("authorization"))
        .respond_with(ResponseTemplate::new(200).set_body_string(sts_reply(
            "AssumeRole",
            "ASIAROLEFROMSSO",
            "role-from-sso-token",
        )))
        .mount(&sts)
        .await;
    let fake = fake().await;
    fake.accept_access_key("ASIAROLEFROMSSO");
    let dir = TempDir::new("sso-source");
    let config = format!("{SSO_SESSION_CONFIG}\n[profile deployer]\nrole_arn = arn:aws:iam::123456789012:role/deployer\nsource_profile = dev\nregion = us-east-1\n");
    let cached =
        serde_json::json!({"accessToken": "session-token", "expiresAt": time_from_now(3600)});
    let (mut command, _) = with_sso_home(
        &fake,
        &dir,
        &config,
        "corp",
        &cached,
        &server,
        &["-p", "deployer"],
    );
    command.env("AWS_ENDPOINT_URL_STS", sts.uri());
    run_command(command).await.assert_code(0);
    assert_all_signed_by(&fake, "ASIAROLEFROMSSO", Some("role-from-sso-token"));
    let auth = sts.received_requests().await.unwrap()[0]
        .headers
        .get("authorization")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert!(auth.contains("Credential=ASIASSOBASE/"), "{auth}");
}

/// The cache of `SSO_SESSION_CONFIG` with a token that has expired and can
/// be refreshed.
fn expired_refreshable_cache() -> serde_json::Value {
    serde_json::json!({
        "startUrl": "https://corp.awsapps.com/start", "region": "eu-west-1",
        "accessToken": "old-token", "expiresAt": "2020-01-01T00:00:00Z",
        "refreshToken": "refresh-1", "clientId": "client-1", "clientSecret": "client-secret-1",
        "registrationExpiresAt": time_from_now(86_400)
    })
}

#[tokio::test]
async fn numbers_in_identity_center_answers_are_range_checked() {
    // CreateToken's expiresIn is an int32 of seconds: anything else is not
    // an answer, and the cache (shared with the AWS CLI) is left alone.
    for expires_in in [
        serde_json::json!(u64::MAX),
        serde_json::json!(1_000_000_000_000u64),
        serde_json::json!(0),
        serde_json::json!(-3600),
        serde_json::json!(3600.5),
    ] {
        let server = identity_center("fresh-token", "ASIASSOFRESH").await;
        Mock::given(method("POST"))
            .and(path("/token"))
            .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
                "accessToken": "fresh-token", "expiresIn": expires_in, "tokenType": "Bearer"
            })))
            .mount(&server)
            .await;
        let fake = fake().await;
        fake.accept_access_key("ASIASSOFRESH");
        let dir = TempDir::new("sso-expires-in");
        let (command, cache_file) = with_sso_home(
            &fake,
            &dir,
            SSO_SESSION_CONFIG,
            "corp",
            &expired_refreshable_cache(),
            &server,
            &["-p", "dev"],
        );
        let before = std::fs::read(&cache_file).unwrap();
        let run = run_command(command).await;
        run.assert_code(2);
        run.assert_stderr_has(
            "CreateToken: the answer's expiresIn is not a whole number of seconds from 1 to 2147483647",
        );
        run.assert_stderr_has("run `aws sso login --sso-session corp`");
        assert_eq!(
            std::fs::read(&cache_file).unwrap(),
            before,
            "expiresIn {expires_in}: the cache was rewritten"
        );
        assert!(fake.requests().is_empty(), "no ECS call");
    }

    // GetRoleCredentials' expiration is milliseconds since 1970, before 10000.
    for expiration in [
        serde_json::json!(-1),
        serde_json::json!("tomorrow"),
        serde_json::json!(1e300),
        serde_json::json!(u64::MAX),
    ] {
        let server = identity_center_expiring("token", "ASIASSOODD", expiration.clone()).await;
        let fake = fake().await;
        fake.accept_access_key("ASIASSOODD");
        let dir = TempDir::new("sso-expiration");
        let cached = serde_json::json!({"accessToken": "token", "expiresAt": time_from_now(3600)});
        let (command, _) = with_sso_home(
            &fake,
            &dir,
            SSO_SESSION_CONFIG,
            "corp",
            &cached,
            &server,
            &["-p", "dev"],
        );
        let run = run_command(command).await;
        run.assert_code(2);
        run.assert_stderr_has(
            "GetRoleCredentials: the answer's expiration is not a time in milliseconds since 1970",
        );
        assert!(
            fake.requests().is_empty(),
            "expiration {expiration}: no ECS call"
        );
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_token_cache_is_read_within_a_cap_and_a_signal_ends_a_read_that_blocks() {
    let server = identity_center("token", "ASIASSO").await;
    let fake = fake().await;
    let dir = TempDir::new("sso-cache-cap");
    let huge = serde_json::json!({
        "accessToken": "token", "expiresAt": time_from_now(3600), "x": "x".repeat(2 << 20)
    });
    let (command, cache_file) = with_sso_home(
        &fake,
        &dir,
        SSO_SESSION_CONFIG,
        "corp",
        &huge,
        &server,
        &["-p", "dev"],
    );
    let run = run_command(command).await;
    run.assert_code(2);
    run.assert_stderr_has(&format!(
        "cannot read {}: larger than 1 MiB, the most ecs-deploy reads of such a file",
        cache_file.display()
    ));

    // A cache "file" that never delivers (a FIFO): Ctrl-C still ends the run.
    let (command, cache_file) = with_sso_home(
        &fake,
        &dir,
        SSO_SESSION_CONFIG,
        "corp",
        &huge,
        &server,
        &["-p", "dev"],
    );
    std::fs::remove_file(&cache_file).unwrap();
    mkfifo(&cache_file);
    let live = spawn(command);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    live.signal("-INT").await;
    let run = tokio::time::timeout(std::time::Duration::from_secs(10), live.finish())
        .await
        .expect("Ctrl-C ended a run blocked on the token cache");
    run.assert_code(130);
    run.assert_stderr_has("Ctrl-C received before anything was changed in AWS.");
    assert!(fake.requests().is_empty(), "no ECS call");
}
