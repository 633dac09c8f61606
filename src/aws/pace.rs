//! ECS's request throttling, kept on our side of the wire: ECS gives each
//! account, per region, one token bucket per category of actions (AWS,
//! "Request throttling for the Amazon ECS API"), and answers
//! `ThrottlingException` when one is empty. A run of many services would
//! empty them — `UpdateService` refills at 5 a second, a
//! `RegisterTaskDefinition` at 1 — so every ECS call waits here for a token
//! of a bucket modelled on ECS's, and a run that is throttled anyway (other
//! clients of the account share the buckets) slows all its calls down.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A category of ECS actions that share one bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Category {
    ServiceRead,
    ServiceModify,
    ServiceDeployments,
    ServiceRevisions,
    TaskDefinitionRead,
    TaskDefinitionModify,
    ClusterResourceRead,
    ClusterResourceModify,
    TagModify,
}

impl Category {
    /// The category of an ECS action the tool calls. AWS's page lists no
    /// category for the newer service-deployment writes and the Express
    /// actions; they are paced with the ones they are most like
    /// (writes that start or change a deployment with `UpdateService`,
    /// reads with `DescribeServices`), the cautious reading.
    fn of(operation: &str) -> Option<Category> {
        Some(match operation {
            "DescribeServices" | "ListServices" | "DescribeExpressGatewayService" => {
                Category::ServiceRead
            }
            "UpdateService"
            | "StopServiceDeployment"
            | "ContinueServiceDeployment"
            | "UpdateExpressGatewayService" => Category::ServiceModify,
            "DescribeServiceDeployments" | "ListServiceDeployments" => Category::ServiceDeployments,
            "DescribeServiceRevisions" => Category::ServiceRevisions,
            "DescribeTaskDefinition" | "ListTaskDefinitions" => Category::TaskDefinitionRead,
            "RegisterTaskDefinition" | "DeregisterTaskDefinition" => Category::TaskDefinitionModify,
            "DescribeTasks" | "ListTasks" => Category::ClusterResourceRead,
            "RunTask" => Category::ClusterResourceModify,
            "TagResource" => Category::TagModify,
            _ => return None,
        })
    }

    /// The bucket's capacity (the burst) and its refill rate per second
    /// (the sustained rate), as AWS documents them for every region.
    fn limits(self) -> (f64, f64) {
        match self {
            Category::ServiceRead => (100.0, 20.0),
            Category::ServiceModify => (50.0, 5.0),
            Category::ServiceDeployments => (50.0, 20.0),
            Category::ServiceRevisions => (50.0, 20.0),
            Category::TaskDefinitionRead => (50.0, 20.0),
            Category::TaskDefinitionModify => (20.0, 1.0),
            Category::ClusterResourceRead => (100.0, 20.0),
            Category::ClusterResourceModify => (100.0, 40.0),
            Category::TagModify => (20.0, 10.0),
        }
    }
}

/// How far a throttled run slows down at most: a sixteenth of the rates.
const SLOWEST: f64 = 1.0 / 16.0;
/// The least time ECS's buckets allow `calls` calls of `operation` from
/// full, for a line that tells a large run what it waits for; zero within
/// the burst, or for an operation of no known category.
pub fn floor(operation: &str, calls: usize) -> Duration {
    let Some(category) = Category::of(operation) else {
        return Duration::ZERO;
    };
    let (capacity, rate) = category.limits();
    Duration::from_secs_f64((calls as f64 - capacity).max(0.0) / rate)
}

/// How often a call waiting for a burst's first answer looks again.
const AWAITING_ANSWER: Duration = Duration::from_millis(10);
/// Throttlings this close to the last slowdown are of calls sent before it.
const TOGETHER: Duration = Duration::from_secs(1);
/// How long a run takes to come back to the full rates after its last
/// throttling, linearly.
const RECOVERY: Duration = Duration::from_secs(20);

/// One bucket as this run believes it stands.
struct Bucket {
    tokens: f64,
    /// Refilled up to here.
    at: Instant,
    /// A call took a full bucket's first token and has not been answered:
    /// ECS's bucket refills from when ECS took that token, which this run
    /// cannot see, so this one does not refill before the answer says it
    /// was taken ([`Taken`]): the number of the burst it began.
    awaiting_answer: Option<u64>,
}

/// A token taken ([`Pacer::take`]), held until the call is answered.
pub struct Taken<'p> {
    /// How long the call waited for it.
    pub waited: Duration,
    /// The bucket whose refill waits for this call's answer, if any, and
    /// the burst the call began.
    opened: Option<(&'p Pacer, Category, u64)>,
}

impl Drop for Taken<'_> {
    /// The call was answered (or abandoned): a burst it began refills from now.
    fn drop(&mut self) {
        if let Some((pacer, category, burst)) = self.opened {
            pacer.answered(category, burst, Instant::now());
        }
    }
}

/// The buckets of one account and region, as one run sees them; every ECS
/// call takes a token first ([`Pacer::take`]).
pub struct Pacer {
    buckets: RefCell<HashMap<Category, Bucket>>,
    /// The share of the documented rates the run allows itself, and since
    /// when: halved by each throttling, back to 1 over [`RECOVERY`].
    slowdown: RefCell<(f64, Instant)>,
    /// Bursts begun so far, to number them.
    bursts: Cell<u64>,
}

impl Default for Pacer {
    fn default() -> Pacer {
        Pacer {
            buckets: RefCell::default(),
            slowdown: RefCell::new((1.0, Instant::now())),
            bursts: Cell::new(0),
        }
    }
}

impl Pacer {
    /// Waits until `operation`'s bucket has a token, and takes it, to be
    /// held until the call is answered. Operations of no known category go
    /// at once.
    pub async fn take(&self, operation: &str) -> Taken<'_> {
        let started = Instant::now();
        let Some(category) = Category::of(operation) else {
            return Taken {
                waited: Duration::ZERO,
                opened: None,
            };
        };
        loop {
            match self.try_take(category, Instant::now()) {
                Ok(burst) => {
                    return Taken {
                        waited: started.elapsed(),
                        opened: burst.map(|burst| (self, category, burst)),
                    }
                }
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// The call that began `burst` of a bucket was answered at `now` (an
    /// answer to a burst the bucket has since left behind changes nothing).
    fn answered(&self, category: Category, burst: u64, now: Instant) {
        if let Some(bucket) = self.buckets.borrow_mut().get_mut(&category) {
            if bucket.awaiting_answer == Some(burst) {
                bucket.awaiting_answer = None;
                bucket.at = now;
            }
        }
    }

    /// ECS throttled `operation` all the same (the account's other clients
    /// share its buckets, or they were emptier than this run assumed):
    /// its bucket is empty, and every call of the run slows down.
    pub fn throttled(&self, operation: &str) {
        self.throttled_at(operation, Instant::now());
    }

    fn throttled_at(&self, operation: &str, now: Instant) {
        if let Some(category) = Category::of(operation) {
            self.buckets.borrow_mut().insert(
                category,
                Bucket {
                    tokens: 0.0,
                    at: now,
                    awaiting_answer: None,
                },
            );
        }
        let (_, since) = *self.slowdown.borrow();
        let share = self.share(now);
        // Calls in flight together are throttled together: one slowdown.
        if share == 1.0 || now.saturating_duration_since(since) >= TOGETHER {
            self.slowdown.replace(((share / 2.0).max(SLOWEST), now));
        }
    }

    /// The share of the documented rates allowed `now`.
    fn share(&self, now: Instant) -> f64 {
        let (share, since) = *self.slowdown.borrow();
        let recovered = now.saturating_duration_since(since).as_secs_f64() / RECOVERY.as_secs_f64();
        (share + recovered).min(1.0)
    }

    /// Takes a token of `category`'s bucket if it has one — and the number
    /// of the burst it begins, if it was a full bucket's first — else says
    /// how long until it will.
    fn try_take(&self, category: Category, now: Instant) -> Result<Option<u64>, Duration> {
        let (capacity, rate) = category.limits();
        let rate = rate * self.share(now);
        let mut buckets = self.buckets.borrow_mut();
        // A bucket never seen is assumed full, as ECS's is when the account
        // has been quiet.
        let bucket = buckets.entry(category).or_insert(Bucket {
            tokens: capacity,
            at: now,
            awaiting_answer: None,
        });
        if bucket.awaiting_answer.is_none() {
            let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
            bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
            bucket.at = now;
        }
        if bucket.tokens < 1.0 {
            return Err(match bucket.awaiting_answer {
                Some(_) => AWAITING_ANSWER,
                None => Duration::from_secs_f64((1.0 - bucket.tokens) / rate),
            });
        }
        bucket.tokens -= 1.0;
        if bucket.tokens + 1.0 < capacity {
            return Ok(None);
        }
        let burst = self.bursts.get() + 1;
        self.bursts.set(burst);
        bucket.awaiting_answer = Some(burst);
        Ok(Some(burst))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(pacer: &Pacer, category: Category, now: Instant) -> usize {
        (0..1000)
            .take_while(|_| pacer.try_take(category, now).is_ok())
            .count()
    }

    #[test]
    fn a_bucket_allows_its_burst_then_its_sustained_rate_from_the_first_answer() {
        let pacer = Pacer::default();
        let now = Instant::now();
        // The first token of a full bucket opens a burst.
        assert_eq!(pacer.try_take(Category::ServiceModify, now), Ok(Some(1)));
        assert_eq!(drain(&pacer, Category::ServiceModify, now), 49);
        // No refill before that first call is answered.
        let later = now + Duration::from_secs(1);
        assert_eq!(
            pacer.try_take(Category::ServiceModify, later),
            Err(AWAITING_ANSWER)
        );
        // An answer to another burst is not this one's.
        pacer.answered(Category::ServiceModify, 7, later);
        assert_eq!(
            pacer.try_take(Category::ServiceModify, later),
            Err(AWAITING_ANSWER)
        );
        pacer.answered(Category::ServiceModify, 1, later);
        // Then UpdateService refills at 5 a second.
        assert_eq!(
            pacer.try_take(Category::ServiceModify, later),
            Err(Duration::from_millis(200))
        );
        let after = later + Duration::from_secs(2);
        assert_eq!(drain(&pacer, Category::ServiceModify, after), 10);
        // Registrations: 20, then one a second.
        assert_eq!(drain(&pacer, Category::TaskDefinitionModify, now), 20);
        pacer.answered(Category::TaskDefinitionModify, 2, now);
        assert_eq!(
            pacer.try_take(Category::TaskDefinitionModify, now),
            Err(Duration::from_secs(1))
        );
    }

    #[test]
    fn a_token_held_until_the_answer_starts_the_refill_when_dropped() {
        let pacer = Pacer::default();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let first = runtime.block_on(pacer.take("RegisterTaskDefinition"));
        assert!(first.opened.is_some());
        let second = runtime.block_on(pacer.take("DeregisterTaskDefinition"));
        assert!(second.opened.is_none(), "one bucket, one burst");
        let awaiting = || pacer.buckets.borrow()[&Category::TaskDefinitionModify].awaiting_answer;
        assert_eq!(awaiting(), Some(1));
        drop(first);
        assert_eq!(awaiting(), None);
        let other = runtime.block_on(pacer.take("GetDeployment"));
        assert!(other.opened.is_none() && other.waited.is_zero());
    }

    #[test]
    fn the_floor_of_many_calls_is_what_exceeds_the_burst_at_the_sustained_rate() {
        assert_eq!(floor("RegisterTaskDefinition", 20), Duration::ZERO);
        assert_eq!(
            floor("RegisterTaskDefinition", 200),
            Duration::from_secs(180)
        );
        assert_eq!(floor("UpdateService", 200), Duration::from_secs(30));
        assert_eq!(floor("GetDeployment", 1000), Duration::ZERO);
    }

    #[test]
    fn categories_are_separate_buckets_and_actions_share_theirs() {
        let pacer = Pacer::default();
        let now = Instant::now();
        assert_eq!(drain(&pacer, Category::ServiceModify, now), 50);
        assert_eq!(pacer.try_take(Category::ServiceRead, now), Ok(Some(2)));
        assert_eq!(
            Category::of("StopServiceDeployment"),
            Category::of("UpdateService")
        );
        assert_eq!(Category::of("ListTasks"), Category::of("DescribeTasks"));
        assert_eq!(Category::of("GetDeployment"), None);
    }

    #[test]
    fn a_throttled_run_slows_down_and_recovers() {
        let pacer = Pacer::default();
        let now = Instant::now();
        pacer.throttled_at("DescribeServices", now);
        assert_eq!(pacer.share(now), 0.5);
        // The throttled bucket is empty: at half of 20 a second, a token in 0.1 s.
        assert_eq!(
            pacer.try_take(Category::ServiceRead, now),
            Err(Duration::from_millis(100))
        );
        // Other buckets keep their tokens but refill at the lower rate.
        assert!(pacer.try_take(Category::ServiceModify, now).is_ok());
        // Calls throttled together slow the run down once.
        pacer.throttled_at("UpdateService", now + TOGETHER / 2);
        assert_eq!(pacer.share(now), 0.5);
        let mut at = now;
        for _ in 0..10 {
            at += TOGETHER;
            pacer.throttled_at("UpdateService", at);
        }
        assert!(pacer.share(at) < 2.0 * SLOWEST, "{}", pacer.share(at));
        assert_eq!(pacer.share(at + RECOVERY), 1.0);
    }
}
