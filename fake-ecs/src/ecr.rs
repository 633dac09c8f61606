//! Amazon ECR: the repositories of the fake's registry (its account, [`ACCOUNT`]) and their
//! images, and how DescribeImages renders an image.

use std::collections::BTreeMap;
use std::ops::RangeInclusive;

use serde_json::{json, Value};

use crate::account::{ACCOUNT, REGION};
use crate::sha256;

/// The manifest media type of every image: a Docker image manifest, schema 2.
const MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// The media type of every image's config.
const ARTIFACT_MEDIA_TYPE: &str = "application/vnd.docker.container.image.v1+json";
/// The smallest size of an image; a digest adds up to [`SIZE_SPREAD`] bytes.
const MIN_SIZE: u64 = 20_000_000;
const SIZE_SPREAD: u64 = 80_000_000;

/// How many characters a repository name has.
pub(crate) const REPOSITORY_NAME_LENGTHS: RangeInclusive<usize> = 2..=256;
/// How many characters an image tag has.
pub(crate) const IMAGE_TAG_LENGTHS: RangeInclusive<usize> = 1..=300;

/// Whether `name` fits the model's RepositoryName pattern: `/`-separated components of
/// lower-case letters and digits, joined within a component by `.`, `_`, `__` or a run of `-`.
pub(crate) fn is_repository_name(name: &str) -> bool {
    name.split('/').all(|component| {
        // What lies between the letters and digits: "" between two of them, and at the ends
        // when the component starts and ends with one.
        let separators: Vec<&str> = component
            .split(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            .collect();
        separators.len() > 1
            && separators[0].is_empty()
            && separators[separators.len() - 1].is_empty()
            && separators
                .iter()
                .all(|s| matches!(*s, "" | "." | "_" | "__") || s.bytes().all(|b| b == b'-'))
    })
}

/// The resource IAM would name when refusing a request with this body: the repository it
/// names (in the registry it names), else `*`.
pub(crate) fn resource_of(body: &Value) -> String {
    let text = |key: &str| body.get(key).and_then(Value::as_str);
    match text("repositoryName") {
        Some(repository) => {
            let registry = text("registryId").unwrap_or(ACCOUNT);
            format!("arn:aws:ecr:{REGION}:{registry}:repository/{repository}")
        }
        None => "*".to_string(),
    }
}

/// One image, with its one tag.
pub(crate) struct Image {
    digest: String,
    tag: String,
    size: u64,
    pushed_at: f64,
}

impl Image {
    /// Whether the image identifier {imageTag, imageDigest} names this image (each given part
    /// must match).
    pub(crate) fn is(&self, tag: Option<&str>, digest: Option<&str>) -> bool {
        tag.is_none_or(|t| t == self.tag) && digest.is_none_or(|d| d == self.digest)
    }

    /// As DescribeImages renders it.
    pub(crate) fn render(&self, repository: &str) -> Value {
        json!({
            "registryId": ACCOUNT,
            "repositoryName": repository,
            "imageDigest": self.digest,
            "imageTags": [self.tag],
            "imageSizeInBytes": self.size,
            "imagePushedAt": self.pushed_at,
            "imageManifestMediaType": MANIFEST_MEDIA_TYPE,
            "artifactMediaType": ARTIFACT_MEDIA_TYPE,
        })
    }
}

/// Everything ECR knows: each repository's images, in the order they were pushed.
#[derive(Default)]
pub(crate) struct Ecr {
    repositories: BTreeMap<String, Vec<Image>>,
}

impl Ecr {
    /// Create an empty repository (nothing happens if it exists).
    pub(crate) fn add_repository(&mut self, name: &str) {
        self.repositories.entry(name.to_string()).or_default();
    }

    /// Push an image tagged `tag` to the repository (created if missing), at `now`; returns its
    /// digest, the same for the same repository and tag (nothing happens if the tag is there).
    pub(crate) fn add_image(&mut self, repository: &str, tag: &str, now: f64) -> String {
        let hex = sha256::hex_digest(format!("{repository}:{tag}").as_bytes());
        let digest = format!("sha256:{hex}");
        let images = self.repositories.entry(repository.to_string()).or_default();
        if !images.iter().any(|i| i.tag == tag) {
            let spread = u64::from_str_radix(&hex[..12], 16).unwrap_or_default() % SIZE_SPREAD;
            images.push(Image {
                digest: digest.clone(),
                tag: tag.to_string(),
                size: MIN_SIZE + spread,
                pushed_at: now,
            });
        }
        digest
    }

    /// The images of a repository, oldest first; `None` if there is no such repository.
    pub(crate) fn images(&self, repository: &str) -> Option<&[Image]> {
        self.repositories.get(repository).map(Vec::as_slice)
    }
}
