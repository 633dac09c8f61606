//! Container image references: parsing, the repository they name, and the
//! rewrite rules of a deploy (design §5). Pure: no I/O, no environment access.
//!
//! A reference is `[registry[:port]/]path[:tag|@algorithm:digest]`, where
//! `path` may have several `/`-separated components. Its *repository* is the
//! reference without tag or digest; two references name the same repository
//! when their registries and paths agree after Docker Hub normalisation
//! (`nginx`, `library/nginx` and `docker.io/library/nginx` are one).

use std::fmt;

/// A parsed image reference. `Display` writes it back exactly as it was
/// written (Docker Hub names are normalised only for comparison, by
/// [`ImageRef::repository_key`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// `host[:port]`, when the first component looks like one.
    registry: Option<String>,
    /// The `/`-separated path inside the registry.
    path: String,
    /// What follows the repository: a tag or a digest, or nothing.
    version: Version,
}

/// The part of a reference that pins a version of the repository.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Version {
    None,
    Tag(String),
    Digest(String),
    /// `name:tag@digest`: the digest pins the image, the tag says what it is.
    TagAndDigest(String, String),
}

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    input: String,
    why: &'static str,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "'{}' is not a valid image reference: {}. Expected [registry[:port]/]repository[:tag|@sha256:digest], e.g. nginx:1.25 or 123456789012.dkr.ecr.us-east-1.amazonaws.com/team/app:v2",
            self.input, self.why
        )
    }
}

impl std::error::Error for ParseError {}

impl ImageRef {
    /// Parses a reference, rejecting anything a registry would not accept.
    pub fn parse(input: &str) -> Result<ImageRef, ParseError> {
        let fail = |why| ParseError {
            input: input.to_string(),
            why,
        };
        if input.is_empty() {
            return Err(fail("it is empty"));
        }
        if input.chars().any(char::is_whitespace) {
            return Err(fail("it contains white space"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => {
                if !is_digest(digest) {
                    return Err(fail("the digest after '@' must look like sha256:0123abcd"));
                }
                (rest, Some(digest))
            }
            None => (input, None),
        };
        // A tag is whatever follows the last ':' unless that ':' is inside the
        // registry's `host:port` (then a '/' comes after it).
        let (name, tag) = match rest.rfind(':') {
            Some(colon) if !rest[colon..].contains('/') => {
                (&rest[..colon], Some(&rest[colon + 1..]))
            }
            _ => (rest, None),
        };
        if let Some(tag) = tag {
            if !is_tag(tag) {
                return Err(fail(
                    "a tag is 1 to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'",
                ));
            }
        }
        let (registry, path) = split_registry(name);
        if let Some(registry) = registry {
            if !is_registry(registry) {
                return Err(fail(
                    "the registry must be host or host:port with a numeric port",
                ));
            }
        }
        if path.is_empty() || !path.split('/').all(is_path_component) {
            return Err(fail(
                "each repository path component must start and end with a lowercase letter or digit and contain only lowercase letters, digits, '.', '_' or '-' (registries refuse upper case)",
            ));
        }
        let version = match (tag, digest) {
            (Some(tag), Some(digest)) => Version::TagAndDigest(tag.to_string(), digest.to_string()),
            (None, Some(digest)) => Version::Digest(digest.to_string()),
            (Some(tag), None) => Version::Tag(tag.to_string()),
            (None, None) => Version::None,
        };
        Ok(ImageRef {
            registry: registry.map(str::to_string),
            path: path.to_string(),
            version,
        })
    }

    /// The repository, normalised so that equal repositories compare equal:
    /// Docker Hub's implicit registry and `library/` namespace are made explicit.
    pub fn repository_key(&self) -> String {
        let registry = match self.registry.as_deref() {
            None | Some("docker.io" | "index.docker.io" | "registry-1.docker.io") => "docker.io",
            Some(other) => other,
        };
        if registry == "docker.io" && !self.path.contains('/') {
            format!("docker.io/library/{}", self.path)
        } else {
            format!("{registry}/{}", self.path)
        }
    }

    /// Whether the reference pins neither a tag nor a digest.
    pub fn is_unversioned(&self) -> bool {
        self.version == Version::None
    }

    /// The same repository without a tag or digest.
    fn without_version(&self) -> ImageRef {
        ImageRef {
            version: Version::None,
            ..self.clone()
        }
    }

    /// The same repository at `tag` (replacing any tag or digest).
    pub fn with_tag(&self, tag: &str) -> ImageRef {
        ImageRef {
            version: Version::Tag(tag.to_string()),
            ..self.clone()
        }
    }
}

/// An image in Amazon ECR, as `DescribeImages` names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct EcrImage {
    /// The account that owns the registry.
    pub registry_id: String,
    /// The registry's region.
    pub region: String,
    pub repository: String,
    pub version: EcrVersion,
}

/// Which image of an ECR repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum EcrVersion {
    Tag(String),
    Digest(String),
}

impl ImageRef {
    /// Where this image is in ECR, when its registry is an ECR one
    /// (`<account>.dkr.ecr.<region>.amazonaws.com[.cn]`, or `dkr.ecr-fips`)
    /// and it names a tag or a digest (a digest wins: it pins the image).
    pub fn ecr(&self) -> Option<EcrImage> {
        let host = self.registry.as_deref()?;
        let host = host
            .strip_suffix(".amazonaws.com")
            .or_else(|| host.strip_suffix(".amazonaws.com.cn"))?;
        let (account, rest) = host.split_once('.')?;
        let region = rest
            .strip_prefix("dkr.ecr.")
            .or_else(|| rest.strip_prefix("dkr.ecr-fips."))?;
        let is_account = account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit());
        let is_region = !region.is_empty()
            && region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !is_account || !is_region {
            return None;
        }
        let version = match &self.version {
            Version::None => return None,
            Version::Tag(tag) => EcrVersion::Tag(tag.clone()),
            Version::Digest(digest) | Version::TagAndDigest(_, digest) => {
                EcrVersion::Digest(digest.clone())
            }
        };
        Some(EcrImage {
            registry_id: account.to_string(),
            region: region.to_string(),
            repository: self.path.clone(),
            version,
        })
    }
}

impl fmt::Display for EcrImage {
    /// `repository:tag` or `repository@digest` in registry `account` (region).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.version {
            EcrVersion::Tag(tag) => write!(f, "{}:{tag}", self.repository)?,
            EcrVersion::Digest(digest) => write!(f, "{}@{digest}", self.repository)?,
        }
        write!(f, " in registry {} ({})", self.registry_id, self.region)
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(f, "{registry}/")?;
        }
        f.write_str(&self.path)?;
        match &self.version {
            Version::None => Ok(()),
            Version::Tag(tag) => write!(f, ":{tag}"),
            Version::Digest(digest) => write!(f, "@{digest}"),
            Version::TagAndDigest(tag, digest) => write!(f, ":{tag}@{digest}"),
        }
    }
}

/// The image to deploy for `-i INPUT`: the reference as given when it pins a
/// tag or digest, except that a non-empty tag from the `-e` variable replaces
/// either; with neither, `latest`.
pub fn image_to_deploy(input: &str, tag_from_env: Option<&str>) -> Result<ImageRef, ParseError> {
    let image = ImageRef::parse(input)?;
    Ok(match tag_from_env.filter(|tag| !tag.is_empty()) {
        Some(tag) => {
            if !is_tag(tag) {
                return Err(ParseError {
                    input: format!("{}:{tag}", image.without_version()),
                    why: "the tag from the --tag-env-var variable is not a valid tag",
                });
            }
            image.with_tag(tag)
        }
        None if image.is_unversioned() => image.with_tag("latest"),
        None => image,
    })
}

/// Splits `name` into registry and path the way Docker does: the first
/// component is a registry only when there are more components and it
/// contains a '.' or ':' or is `localhost`.
fn split_registry(name: &str) -> (Option<&str>, &str) {
    match name.split_once('/') {
        Some((first, rest))
            if first.contains('.') || first.contains(':') || first == "localhost" =>
        {
            (Some(first), rest)
        }
        _ => (None, name),
    }
}

fn is_registry(registry: &str) -> bool {
    let (host, port) = match registry.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (registry, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    host_ok && port_ok
}

fn is_path_component(component: &str) -> bool {
    let lower_alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    component.starts_with(lower_alnum)
        && component.ends_with(lower_alnum)
        && component
            .chars()
            .all(|c| lower_alnum(c) || matches!(c, '.' | '_' | '-'))
}

/// Whether `tag` is a valid image tag.
pub fn is_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn is_digest(digest: &str) -> bool {
    match digest.split_once(':') {
        Some((algorithm, hex)) => {
            !algorithm.is_empty()
                && algorithm.starts_with(|c: char| c.is_ascii_alphabetic())
                && algorithm
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '_' | '-'))
                && !hex.is_empty()
                && hex.chars().all(|c| c.is_ascii_hexdigit())
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deploy(input: &str, tag: Option<&str>) -> String {
        image_to_deploy(input, tag)
            .unwrap_or_else(|e| panic!("{input}: {e}"))
            .to_string()
    }

    /// The reference cases the upstream bash script is tested with (design §5).
    #[test]
    fn upstream_reference_cases() {
        let unchanged = [
            "mariadb:1.2.3",
            "mariadb@sha256:1234567890abcdef",
            "repo/image:v1.2.3",
            "repo/image@sha256:1234567890abcdef",
            "repo/multi/level/image:v1.2.3",
            "docker.domain.com/repo/image:1.2.3",
            "docker.domain.com/repo/image@sha256:1234567890abcdef",
            "docker.domain.com:8080/repo/multi/level/image:1.2.3",
            "docker.domain.com:8080/repo/multi/level/image@sha256:1234567890abcdef",
            "something:tag_123",
            "repo/image:v2@sha256:1234567890abcdef",
        ];
        for input in unchanged {
            assert_eq!(deploy(input, None), input);
        }
        let gets_latest = [
            "mariadb",
            "repo/image",
            "repo/multi/level/image",
            "docker.domain.com/repo/image",
            "docker.domain.com:8080/repo/multi/level/image",
            "121212345678.dkr.ecr.us-east-1.amazonaws.com/acct/repo",
        ];
        for input in gets_latest {
            assert_eq!(deploy(input, None), format!("{input}:latest"));
        }
    }

    #[test]
    fn tag_from_environment_variable() {
        assert_eq!(
            deploy("docker.domain.com:8080/repo/image", Some("1487623908")),
            "docker.domain.com:8080/repo/image:1487623908"
        );
        assert_eq!(
            deploy(
                "121212345678.dkr.ecr.us-east-1.amazonaws.com/acct/repo",
                Some("1487623908")
            ),
            "121212345678.dkr.ecr.us-east-1.amazonaws.com/acct/repo:1487623908"
        );
        assert_eq!(
            deploy(
                "docker.domain.com:8080/repo/image@sha256:1234567890abcdef",
                Some("1487623908")
            ),
            "docker.domain.com:8080/repo/image:1487623908"
        );
        assert_eq!(deploy("mariadb:1.2.3", Some("9")), "mariadb:9");
        // An empty variable counts as unset.
        assert_eq!(deploy("mariadb", Some("")), "mariadb:latest");
        assert!(image_to_deploy("mariadb", Some("bad tag")).is_err());
    }

    #[test]
    fn rejected_references() {
        for input in [
            "",
            "/something",
            "domain.com:abc/repo/image",
            "_something:tag123",
            "repo/image:",
            "repo//image",
            "repo/image@sha256:",
            "repo/image@nothex:zz",
            "repo/image:-tag",
            "repo image",
            "Acct/Repo:v1",
        ] {
            assert!(
                ImageRef::parse(input).is_err(),
                "{input:?} should be rejected"
            );
        }
    }

    #[test]
    fn error_names_the_input_and_the_expected_form() {
        let message = ImageRef::parse("domain.com:abc/repo/image")
            .unwrap_err()
            .to_string();
        assert!(message.contains("'domain.com:abc/repo/image'"), "{message}");
        assert!(message.contains("numeric port"), "{message}");
    }

    #[test]
    fn docker_hub_names_share_one_repository() {
        let key = |s| ImageRef::parse(s).unwrap().repository_key();
        assert_eq!(key("nginx"), "docker.io/library/nginx");
        assert_eq!(key("nginx:1.25"), key("library/nginx"));
        assert_eq!(key("docker.io/library/nginx@sha256:abc"), key("nginx"));
        assert_eq!(key("index.docker.io/library/nginx"), key("nginx"));
        assert_eq!(key("bitnami/nginx"), "docker.io/bitnami/nginx");
        assert_ne!(key("acct/repo"), key("acct/repo-two"));
        assert_ne!(key("localhost/nginx"), key("nginx"));
        assert_eq!(
            key("docker.domain.com:8080/repo/image:1"),
            "docker.domain.com:8080/repo/image"
        );
    }

    #[test]
    fn ecr_images_are_known_by_their_registry() {
        let ecr = |input: &str| ImageRef::parse(input).unwrap().ecr();
        assert_eq!(
            ecr("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:v2"),
            Some(EcrImage {
                registry_id: "123456789012".into(),
                region: "eu-west-1".into(),
                repository: "team/app".into(),
                version: EcrVersion::Tag("v2".into()),
            })
        );
        let digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
        let pinned = ecr(&format!(
            "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app:v2@{digest}"
        ))
        .unwrap();
        assert_eq!(pinned.version, EcrVersion::Digest(digest.into()));
        assert_eq!(pinned.region, "cn-north-1");
        assert!(ecr("123456789012.dkr.ecr-fips.us-east-1.amazonaws.com/app:1").is_some());
        for elsewhere in [
            "nginx:1.25",
            "docker.domain.com:8080/repo/image:v1",
            "public.ecr.aws/nginx/nginx:1.25",
            "12345.dkr.ecr.us-east-1.amazonaws.com/app:v1",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com.evil.example/app:v1",
            "123456789012.dkr.ecr.us-east-1.amazonaws.com/app",
        ] {
            assert_eq!(ecr(elsewhere), None, "{elsewhere}");
        }
        assert_eq!(
            ecr("123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:v2")
                .unwrap()
                .to_string(),
            "team/app:v2 in registry 123456789012 (eu-west-1)"
        );
    }
}
