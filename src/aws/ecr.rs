//! Typed ECR operations (design §12): whether the image a deploy is about to
//! roll out exists, before anything is registered.

use serde_json::{json, Value};

use super::api::{list_of, names_the_one_asked, Api};
use super::client::{AwsError, Client};
use crate::core::image::{EcrImage, EcrVersion};

/// The `X-Amz-Target` prefix of the ECR API.
pub const TARGET_PREFIX: &str = "AmazonEC2ContainerRegistry_V20150921";
/// What ECR answers when the repository or the image is not there.
const MISSING: [&str; 2] = ["RepositoryNotFoundException", "ImageNotFoundException"];

/// ECR in one region.
pub struct Ecr {
    api: Api,
}

impl Ecr {
    /// ECR through `client` (every call of ours is a read).
    pub fn new(client: Client) -> Ecr {
        Ecr {
            api: Api::new(client, TARGET_PREFIX, &[]),
        }
    }

    /// `None` when `image` exists, else what ECR says is missing (the
    /// repository, or the tag or digest in it).
    pub async fn missing(&self, image: &EcrImage) -> Result<Option<String>, AwsError> {
        let id = match &image.version {
            EcrVersion::Tag(tag) => json!({"imageTag": tag}),
            EcrVersion::Digest(digest) => json!({"imageDigest": digest}),
        };
        let input = json!({
            "registryId": image.registry_id,
            "repositoryName": image.repository,
            "imageIds": [id],
        });
        let described = self
            .api
            .read("DescribeImages", &input, &|reply| describes(reply, image))
            .await;
        match described {
            Ok(_) => Ok(None),
            Err(e) if e.code().is_some_and(|code| MISSING.contains(&code)) => {
                Ok(Some(e.to_string()))
            }
            Err(e) => Err(e),
        }
    }
}

/// A `DescribeImages` answer about `image`: its repository, with its tag or
/// digest.
fn describes(reply: &Value, image: &EcrImage) -> Result<(), String> {
    let details = list_of(reply, "imageDetails")?;
    let Some(detail) = details.first() else {
        return Err("the answer describes no image".into());
    };
    names_the_one_asked(
        detail["repositoryName"].as_str(),
        &image.repository,
        "repository",
    )?;
    let named = match &image.version {
        EcrVersion::Tag(tag) => detail["imageTags"]
            .as_array()
            .is_some_and(|tags| tags.iter().any(|t| t == tag.as_str())),
        EcrVersion::Digest(digest) => detail["imageDigest"] == digest.as_str(),
    };
    if named {
        Ok(())
    } else {
        Err("the answer describes another image of the repository".into())
    }
}
