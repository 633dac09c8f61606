//! The ECR operation (DescribeImages): input checks and replies, with the error codes of the
//! `ecr` model and `ops`' input checks.

use serde_json::{Map, Value};

use crate::account::ACCOUNT;
use crate::ecr::{self, Image, IMAGE_TAG_LENGTHS, REPOSITORY_NAME_LENGTHS};
use crate::ops::{
    check_length, err, invalid, opt_choice, opt_int, opt_str, opt_text, page_of, required,
    wrong_type, ApiError, Pattern,
};
use crate::state::State;

type Input = Map<String, Value>;

/// Images per page when `maxResults` is absent.
const PAGE_SIZE: i64 = 100;
/// The most images a page holds.
const MAX_RESULTS: i64 = 1000;
/// The most `imageIds` DescribeImages takes.
const MAX_IMAGE_IDS: usize = 100;

const REGISTRY_ID: Pattern = ("[0-9]{12}", |s| {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
});
const REPOSITORY_NAME: Pattern = (
    r"[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*",
    ecr::is_repository_name,
);
/// The model leaves imageDigest free, ECR itself does not: `algorithm:hex`.
const IMAGE_DIGEST: Pattern = ("[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+", |s| {
    s.split_once(':').is_some_and(|(algorithm, hex)| {
        !algorithm.is_empty()
            && algorithm
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_+.".contains(c))
            && !hex.is_empty()
            && hex.chars().all(|c| c.is_ascii_hexdigit())
    })
});

/// Run one ECR operation against the state.
pub(crate) fn call(state: &State, operation: &str, input: &Input) -> Result<Value, ApiError> {
    match operation {
        "DescribeImages" => describe_images(state, input),
        _ => Err(err(
            "UnknownOperationException",
            format!("The fake ECR does not know the operation '{operation}'."),
        )),
    }
}

/// An image identifier: its tag and digest, at least one of them.
type ImageId<'a> = (Option<&'a str>, Option<&'a str>);

/// `imageIds`, if given.
fn image_ids(input: &Input) -> Result<Option<Vec<ImageId<'_>>>, ApiError> {
    let items = match input.get("imageIds") {
        None => return Ok(None),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(wrong_type("imageIds", "a list of image identifiers")),
    };
    let shown = format!("'{}'", input["imageIds"]);
    check_length("imageIds", &shown, items.len(), 1..=MAX_IMAGE_IDS)?;
    let ids = items.iter().map(|item| {
        let id = item
            .as_object()
            .ok_or_else(|| wrong_type("imageIds", "a list of image identifiers"))?;
        let tag = opt_text(id, "imageTag", IMAGE_TAG_LENGTHS, None)?;
        let digest = opt_text(id, "imageDigest", 0..=usize::MAX, Some(IMAGE_DIGEST))?;
        if tag.is_none() && digest.is_none() {
            return Err(invalid(
                "Invalid parameter at 'imageIds': an image identifier needs an imageTag or an imageDigest.",
            ));
        }
        Ok((tag, digest))
    });
    ids.collect::<Result<_, _>>().map(Some)
}

/// Whether `filter` lets the fake's images through: they are all TAGGED and ACTIVE.
fn filter_keeps_all(input: &Input) -> Result<bool, ApiError> {
    let filter = match input.get("filter") {
        None => return Ok(true),
        Some(Value::Object(filter)) => filter,
        Some(_) => return Err(wrong_type("filter", "an object")),
    };
    let tag_status = opt_choice(filter, "tagStatus", &["TAGGED", "UNTAGGED", "ANY"])?;
    let image_status = opt_choice(
        filter,
        "imageStatus",
        &["ACTIVE", "ARCHIVED", "ACTIVATING", "ANY"],
    )?;
    Ok(tag_status != Some("UNTAGGED") && image_status.is_none_or(|s| s == "ACTIVE" || s == "ANY"))
}

fn describe_images(state: &State, input: &Input) -> Result<Value, ApiError> {
    let registry = opt_text(input, "registryId", 0..=usize::MAX, Some(REGISTRY_ID))?;
    let registry = registry.unwrap_or(ACCOUNT);
    let repository = opt_text(
        input,
        "repositoryName",
        REPOSITORY_NAME_LENGTHS,
        Some(REPOSITORY_NAME),
    )?;
    let repository = required(repository, "repositoryName")?;
    let ids = image_ids(input)?;
    let max_results = opt_int(input, "maxResults", 1..=MAX_RESULTS)?;
    let token = opt_str(input, "nextToken")?;
    if ids.is_some() && (max_results.is_some() || token.is_some()) {
        return Err(invalid(
            "maxResults and nextToken cannot be used together with imageIds.",
        ));
    }
    let keeps_all = filter_keeps_all(input)?;
    // The fake's registry is its account's; another's has no repository the fake knows.
    let images = state
        .ecr
        .images(repository)
        .filter(|_| registry == ACCOUNT)
        .ok_or_else(|| {
            err(
                "RepositoryNotFoundException",
                format!("The repository with name '{repository}' does not exist in the registry with id '{registry}'"),
            )
        })?;
    let chosen: Vec<&Image> = match ids {
        None => images.iter().collect(),
        Some(ids) => {
            let mut chosen: Vec<&Image> = Vec::new();
            for (tag, digest) in ids {
                let image = images.iter().find(|i| i.is(tag, digest)).ok_or_else(|| {
                    err(
                        "ImageNotFoundException",
                        format!(
                            "The image with imageId {{imageDigest:'{}', imageTag:'{}'}} does not exist within the repository with name '{repository}' in the registry with id '{registry}'",
                            digest.unwrap_or("null"),
                            tag.unwrap_or("null")
                        ),
                    )
                })?;
                if !chosen.iter().any(|c| std::ptr::eq(*c, image)) {
                    chosen.push(image);
                }
            }
            chosen
        }
    };
    let details = chosen
        .into_iter()
        .filter(|_| keeps_all)
        .map(|image| image.render(repository))
        .collect();
    let size = max_results.unwrap_or(PAGE_SIZE) as usize;
    page_of(details, token, size, "imageDetails").ok_or_else(|| invalid("Invalid NextToken."))
}
