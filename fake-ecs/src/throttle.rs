//! ECS's request throttling (see [`FakeEcs::throttle_like_ecs`](crate::FakeEcs::throttle_like_ecs)):
//! one token bucket per category of actions, sized as AWS's page "Request throttling for the
//! Amazon ECS API" (<https://docs.aws.amazon.com/AmazonECS/latest/APIReference/request-throttling.html>,
//! section "Request Token Bucket Sizes and Refill Rates") gives them, refilled by the wall clock.

use std::time::Instant;

/// A category of ECS actions: every action in it takes its tokens from one bucket.
struct Category {
    /// The category's name on AWS's page, e.g. "Service modify actions".
    name: &'static str,
    /// The actions AWS's page lists in it.
    actions: &'static [&'static str],
    /// The bucket's maximum capacity (the burst rate).
    burst: f64,
    /// The bucket's refill rate in tokens a second (the sustained rate).
    per_second: f64,
}

/// AWS's table, row by row, as the page gives it for every Region.
const CATEGORIES: [Category; 20] = [
    Category {
        name: "Cluster modify actions",
        actions: &[
            "CreateCluster",
            "DeleteCluster",
            "PutClusterCapacityProviders",
            "UpdateCluster",
            "UpdateClusterSettings",
        ],
        burst: 20.0,
        per_second: 1.0,
    },
    Category {
        name: "Cluster read actions",
        actions: &["DescribeClusters", "ListClusters"],
        burst: 50.0,
        per_second: 20.0,
    },
    Category {
        name: "Task definition modify actions",
        actions: &["DeregisterTaskDefinition", "RegisterTaskDefinition"],
        burst: 20.0,
        per_second: 1.0,
    },
    Category {
        name: "Task definition read actions",
        actions: &[
            "DescribeTaskDefinition",
            "ListTaskDefinitions",
            "ListTaskDefinitionFamilies",
        ],
        burst: 50.0,
        per_second: 20.0,
    },
    Category {
        name: "Task definition deletion actions",
        actions: &["DeleteTaskDefinitions"],
        burst: 5.0,
        per_second: 1.0,
    },
    Category {
        name: "Capacity provider modify actions",
        actions: &[
            "CreateCapacityProvider",
            "DeleteCapacityProvider",
            "UpdateCapacityProvider",
        ],
        burst: 10.0,
        per_second: 1.0,
    },
    Category {
        name: "Capacity provider read actions",
        actions: &["DescribeCapacityProviders"],
        burst: 50.0,
        per_second: 20.0,
    },
    Category {
        name: "Tag modify actions",
        actions: &["TagResource", "UntagResource"],
        burst: 20.0,
        per_second: 10.0,
    },
    Category {
        name: "Tag read actions",
        actions: &["ListTagsForResource"],
        burst: 50.0,
        per_second: 20.0,
    },
    Category {
        name: "Setting modify actions",
        actions: &[
            "DeleteAccountSetting",
            "PutAccountSetting",
            "PutAccountSettingDefault",
        ],
        burst: 10.0,
        per_second: 1.0,
    },
    Category {
        name: "Setting read actions",
        actions: &["ListAccountSettings"],
        burst: 50.0,
        per_second: 20.0,
    },
    Category {
        name: "Cluster resource modify actions",
        actions: &[
            "DeleteAttributes",
            "DeregisterContainerInstance",
            "ExecuteCommand",
            "PutAttributes",
            "RunTask",
            "StartTask",
            "StopTask",
            "UpdateContainerAgent",
            "UpdateContainerInstancesStates",
        ],
        burst: 100.0,
        per_second: 40.0,
    },
    Category {
        name: "Cluster resource read actions",
        actions: &[
            "DescribeContainerInstances",
            "DescribeTasks",
            "ListAttributes",
            "ListContainerInstances",
            "ListTasks",
        ],
        burst: 100.0,
        per_second: 20.0,
    },
    Category {
        name: "Agent modify actions",
        actions: &[
            "RegisterContainerInstance",
            "SubmitAttachmentStateChanges",
            "SubmitContainerStateChange",
            "SubmitTaskStateChange",
        ],
        burst: 200.0,
        per_second: 120.0,
    },
    Category {
        name: SERVICE_MODIFY,
        actions: &["CreateService", "DeleteService", "UpdateService"],
        burst: 50.0,
        per_second: 5.0,
    },
    Category {
        name: SERVICE_READ,
        actions: &["DescribeServices", "ListServices"],
        burst: 100.0,
        per_second: 20.0,
    },
    Category {
        name: "Service deployment actions",
        actions: &["DescribeServiceDeployments", "ListServiceDeployments"],
        burst: 50.0,
        per_second: 20.0,
    },
    Category {
        name: "Service revision actions",
        actions: &["DescribeServiceRevisions"],
        burst: 50.0,
        per_second: 20.0,
    },
    Category {
        name: "Task protection actions",
        actions: &["UpdateTaskProtection", "GetTaskProtection"],
        burst: 200.0,
        per_second: 80.0,
    },
    Category {
        name: "Cluster service resource read actions",
        actions: &["ListServicesByNamespace"],
        burst: 10.0,
        per_second: 1.0,
    },
];

const SERVICE_MODIFY: &str = "Service modify actions";
const SERVICE_READ: &str = "Service read actions";

/// ECS actions AWS's page does not list, and the category whose bucket the fake makes them share:
/// its own assumption, not AWS's word. Each goes with the listed category it is most like —
/// stopping or continuing a service deployment and an Express update change a service's
/// deployment as UpdateService does; describing an Express service reads a service as
/// DescribeServices does. Sharing a bucket rather than having one of its own is the cautious
/// reading: a client that paces itself against it is safe either way.
const UNLISTED: [(&str, &str); 4] = [
    ("StopServiceDeployment", SERVICE_MODIFY),
    ("ContinueServiceDeployment", SERVICE_MODIFY),
    ("UpdateExpressGatewayService", SERVICE_MODIFY),
    ("DescribeExpressGatewayService", SERVICE_READ),
];

/// The index in [`CATEGORIES`] of the bucket `operation` takes its tokens from; `None` for an
/// operation ECS does not have.
fn category_of(operation: &str) -> Option<usize> {
    let name = UNLISTED
        .iter()
        .find(|(unlisted, _)| *unlisted == operation)
        .map(|(_, category)| *category);
    CATEGORIES.iter().position(|c| match name {
        Some(name) => c.name == name,
        None => c.actions.contains(&operation),
    })
}

/// One bucket's tokens, as they stood at a moment.
#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The token buckets of one account and Region: one per category of [`CATEGORIES`].
pub(crate) struct Buckets {
    buckets: Vec<Bucket>,
}

impl Buckets {
    /// Every bucket full at `now`.
    pub(crate) fn full(now: Instant) -> Buckets {
        let buckets = CATEGORIES
            .iter()
            .map(|c| Bucket {
                tokens: c.burst,
                at: now,
            })
            .collect();
        Buckets { buckets }
    }

    /// Takes a token for one call of the ECS action `operation` at `now`: false if its bucket is
    /// empty (the call is throttled, and takes nothing). A bucket refills continuously, at its
    /// sustained rate a second since it was last looked at, up to its burst; AWS's page adds
    /// "a set number of tokens every second", which a client pacing itself under the sustained
    /// rate meets the same way. An operation ECS does not have is never throttled.
    pub(crate) fn take(&mut self, operation: &str, now: Instant) -> bool {
        let Some(i) = category_of(operation) else {
            return true;
        };
        let category = &CATEGORIES[i];
        let bucket = &mut self.buckets[i];
        // `now` can precede `at` when two callers read the clock before taking the lock.
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * category.per_second).min(category.burst);
        bucket.at = bucket.at.max(now);
        if bucket.tokens < 1.0 {
            return false;
        }
        bucket.tokens -= 1.0;
        true
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// How many calls of `operation` at `now` are accepted before the first is throttled.
    fn accepted(buckets: &mut Buckets, operation: &str, now: Instant) -> usize {
        (0..).take_while(|_| buckets.take(operation, now)).count()
    }

    #[test]
    fn every_action_is_in_one_category_only() {
        let mut actions: Vec<&str> = CATEGORIES.iter().flat_map(|c| c.actions).copied().collect();
        actions.extend(UNLISTED.iter().map(|(action, _)| *action));
        let count = actions.len();
        actions.sort_unstable();
        actions.dedup();
        assert_eq!(actions.len(), count, "an action is in two categories");
        assert!(UNLISTED
            .iter()
            .all(|(_, c)| CATEGORIES.iter().any(|k| k.name == *c)));
    }

    #[test]
    fn a_burst_then_the_sustained_rate_by_the_clock() {
        let start = Instant::now();
        let mut buckets = Buckets::full(start);
        // Service modify actions: 50, then 5 a second.
        assert_eq!(accepted(&mut buckets, "UpdateService", start), 50);
        let later = |ms| start + Duration::from_millis(ms);
        assert_eq!(accepted(&mut buckets, "UpdateService", later(199)), 0);
        assert_eq!(accepted(&mut buckets, "UpdateService", later(200)), 1);
        assert_eq!(accepted(&mut buckets, "UpdateService", later(1200)), 5);
        // Never more than the burst, however long it waited.
        assert_eq!(accepted(&mut buckets, "UpdateService", later(60_000)), 50);
        // Task definition modify actions: 20, then 1 a second.
        assert_eq!(accepted(&mut buckets, "RegisterTaskDefinition", start), 20);
        assert_eq!(
            accepted(&mut buckets, "RegisterTaskDefinition", later(2500)),
            2
        );
    }

    #[test]
    fn the_actions_of_a_category_share_its_bucket_and_categories_are_apart() {
        let now = Instant::now();
        let mut buckets = Buckets::full(now);
        assert_eq!(accepted(&mut buckets, "DescribeServices", now), 100);
        assert!(!buckets.take("ListServices", now));
        assert!(!buckets.take("DescribeExpressGatewayService", now));
        assert_eq!(accepted(&mut buckets, "ListTasks", now), 100);
        assert!(!buckets.take("DescribeTasks", now));
        assert_eq!(
            accepted(&mut buckets, "DescribeServiceDeployments", now),
            50
        );
        assert_eq!(accepted(&mut buckets, "StopServiceDeployment", now), 50);
        assert!(!buckets.take("UpdateService", now));
        assert!(buckets.take("DescribeTaskDefinition", now));
        assert!(buckets.take("FlyToTheMoon", now));
    }
}
