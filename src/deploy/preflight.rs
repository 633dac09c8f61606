//! No doomed deploy started (design §12): before anything is registered,
//! each image a run changes containers to is looked up in ECR, and each
//! CloudWatch Logs group its revisions need (one ECS will not create) is
//! looked up too. Either missing stops the run with nothing written. What
//! cannot be checked — a policy without the action, an endpoint that does
//! not answer — is said in one line, and the deploy goes on as before.

use std::future::Future;
use std::time::Duration;

use super::revision::Prepared;
use super::Deployer;
use crate::aws::client::AwsError;
use crate::aws::ecr::Ecr;
use crate::aws::logs::Logs;
use crate::core::image::{EcrImage, ImageRef};
use crate::core::logs;
use crate::error::Error;

/// How long one check may take, retries included: a check that cannot be
/// made must not hold a deploy up for long.
const CHECK_LIMIT: Duration = Duration::from_secs(20);

/// What became of one check.
enum Checked<T> {
    Answered(T),
    /// It could not be made: why.
    Unknown(String),
}

impl Deployer<'_> {
    /// Checks the images (with ECR, unless `--no-image-check`) and the log
    /// groups of `revisions`, each distinct one once.
    pub(super) async fn preflight(&self, revisions: &[&Prepared]) -> Result<(), Error> {
        let images: Vec<&str> = revisions
            .iter()
            .flat_map(|p| &p.new_images)
            .map(String::as_str)
            .collect();
        self.check_images(&images).await?;
        let mut groups: Vec<(String, String)> = revisions
            .iter()
            .flat_map(|p| logs::required_log_groups(&p.input))
            .map(|(group, region)| (group, region.unwrap_or_else(|| self.region.clone())))
            .collect();
        groups.sort();
        groups.dedup();
        for (group, region) in &groups {
            self.check_log_group(group, region).await?;
        }
        Ok(())
    }

    /// Checks, with ECR, each distinct image of `images` that lives there
    /// (unless `--no-image-check`).
    pub(super) async fn check_images(&self, images: &[&str]) -> Result<(), Error> {
        if !self.config.image_check {
            return Ok(());
        }
        let mut in_ecr: Vec<EcrImage> = images
            .iter()
            .filter_map(|image| ImageRef::parse(image).ok()?.ecr())
            .collect();
        in_ecr.sort();
        in_ecr.dedup();
        for image in &in_ecr {
            self.check_image(image).await?;
        }
        Ok(())
    }

    /// Stops the run when `image` is not in ECR.
    async fn check_image(&self, image: &EcrImage) -> Result<(), Error> {
        let ecr = Ecr::new(self.others.client("ecr", &image.region)?);
        match checked(ecr.missing(image)).await {
            Checked::Answered(None) => Ok(()),
            Checked::Answered(Some(why)) => Err(Error::missing_image(format!(
                "the image {image} is not in ECR ({why}); nothing was registered. Push it first, or pass --no-image-check to deploy it anyway."
            ))),
            Checked::Unknown(why) => {
                self.out.say(format!(
                    "warning: could not check that {image} exists ({why}); deploying without that check."
                ));
                Ok(())
            }
        }
    }

    /// Stops the run when a log group the revision needs does not exist:
    /// every task would fail to start.
    async fn check_log_group(&self, group: &str, region: &str) -> Result<(), Error> {
        let logs = Logs::new(self.others.client("logs", region)?);
        match checked(logs.group_exists(group)).await {
            Checked::Answered(true) => Ok(()),
            Checked::Answered(false) => Err(Error::failed(format!(
                "the log group {group} ({region}) that the new revision logs to does not exist, and ECS will not create it (awslogs-create-group is not \"true\"): every task would fail to start. Nothing was registered; create the group, or set awslogs-create-group."
            ))),
            Checked::Unknown(why) => {
                self.out.say(format!(
                    "warning: could not check that log group {group} ({region}) exists ({why}); deploying without that check."
                ));
                Ok(())
            }
        }
    }
}

/// A check's answer, or why there is none, within [`CHECK_LIMIT`].
async fn checked<T>(call: impl Future<Output = Result<T, AwsError>>) -> Checked<T> {
    match tokio::time::timeout(CHECK_LIMIT, call).await {
        Ok(Ok(answer)) => Checked::Answered(answer),
        Ok(Err(e)) => Checked::Unknown(e.to_string()),
        Err(_) => Checked::Unknown(format!("no answer within {} s", CHECK_LIMIT.as_secs())),
    }
}
