//! Shared config and credentials files (`~/.aws/config`, `~/.aws/credentials`):
//! parsing, and turning a profile into a plan of where its credentials come
//! from. Pure: the caller reads the files and carries the plan out.

use std::collections::BTreeMap;
use std::fmt;

/// The properties of one profile.
pub type Properties = BTreeMap<String, String>;

/// The keys that say where a profile's credentials come from.
const CREDENTIAL_KEYS: [&str; 8] = [
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "role_arn",
    "source_profile",
    "credential_source",
    "credential_process",
    "web_identity_token_file",
];

/// All profiles of both files, merged: the credentials file's keys win.
/// (No `Debug`: the properties hold secrets.)
#[derive(Default)]
pub struct Profiles {
    profiles: BTreeMap<String, Properties>,
    /// `[sso-session NAME]` sections of the config file.
    sso_sessions: BTreeMap<String, Properties>,
}

/// A section of a profile file that holds settings of ours.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Section {
    Profile(String),
    SsoSession(String),
}

/// Which file a text came from: sections are named differently in each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// `[default]` and `[profile NAME]`.
    Config,
    /// `[NAME]`.
    Credentials,
}

/// A line of a profile file that the AWS CLI would refuse too. The line
/// itself is not kept: it may hold a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// The file it is in.
    pub kind: FileKind,
    /// Its number, from 1.
    pub line: usize,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl Profiles {
    /// Merges the config file's text and the credentials file's text (either
    /// may be empty); a line that is not a header, a setting, a comment or a
    /// continuation makes the file unusable, as it does for the AWS CLI.
    pub fn parse(config: &str, credentials: &str) -> Result<Profiles, SyntaxError> {
        let mut profiles = Profiles::default();
        profiles.add(config, FileKind::Config)?;
        profiles.add(credentials, FileKind::Credentials)?;
        Ok(profiles)
    }

    fn add(&mut self, text: &str, kind: FileKind) -> Result<(), SyntaxError> {
        let error = |line: usize, problem| SyntaxError {
            kind,
            line,
            problem,
        };
        // None while inside a section of another kind (services, …).
        let mut current: Option<Section> = None;
        let mut in_section = false;
        let mut last_key: Option<String> = None;
        for (number, raw) in text.lines().enumerate().map(|(i, l)| (i + 1, l)) {
            let line = raw.trim_end();
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                continue;
            }
            if trimmed.starts_with('[') {
                match trimmed.find(']') {
                    None => return Err(error(number, "a section header without its closing ']'")),
                    Some(1) => return Err(error(number, "a section header without a name")),
                    Some(_) => {}
                }
                current = section_name(trimmed, kind);
                in_section = true;
                last_key = None;
                match &current {
                    Some(Section::Profile(name)) => {
                        self.profiles.entry(name.clone()).or_default();
                    }
                    Some(Section::SsoSession(name)) => {
                        self.sso_sessions.entry(name.clone()).or_default();
                    }
                    None => {}
                }
                continue;
            }
            if !in_section {
                return Err(error(number, "a setting before the first [section] header"));
            }
            let continuation = line.starts_with([' ', '\t']);
            if !continuation && !trimmed.contains('=') {
                return Err(error(
                    number,
                    "neither a [section] header nor a 'name = value' setting",
                ));
            }
            let section = match &current {
                Some(Section::Profile(name)) => self.profiles.get_mut(name),
                Some(Section::SsoSession(name)) => self.sso_sessions.get_mut(name),
                None => None,
            };
            let Some(profile) = section else {
                continue;
            };
            // An indented line continues the previous property (nested
            // settings such as `s3 =\n  max_concurrent_requests = 10`).
            if continuation {
                if let Some(value) = last_key.as_ref().and_then(|k| profile.get_mut(k)) {
                    if !value.is_empty() {
                        value.push('\n');
                    }
                    value.push_str(trimmed);
                }
                continue;
            }
            if let Some((key, value)) = trimmed.split_once('=') {
                let key = key.trim().to_ascii_lowercase();
                profile.insert(key.clone(), strip_comment(value.trim()).to_string());
                last_key = Some(key);
            }
        }
        Ok(())
    }

    /// The IAM Identity Center settings of profile `name`: from its
    /// `sso_session` (and that `[sso-session]` section), or the legacy form
    /// with `sso_start_url` and `sso_region` in the profile itself.
    fn sso_plan(&self, name: &str, props: &Properties) -> Result<SsoSettings, ProfileError> {
        let value = |p: &Properties, key: &str| p.get(key).filter(|v| !v.is_empty()).cloned();
        let required = |key: &str| {
            value(props, key).ok_or_else(|| {
                ProfileError::new(name, format!("uses IAM Identity Center but has no {key}"))
            })
        };
        let (session, start_url, region) = match value(props, "sso_session") {
            Some(session) => {
                let section = self.sso_sessions.get(&session).ok_or_else(|| {
                    ProfileError::new(
                        name,
                        format!("names sso_session '{session}', but there is no [sso-session {session}] section"),
                    )
                })?;
                let from_section = |key: &str| {
                    value(section, key).ok_or_else(|| {
                        ProfileError::new(name, format!("[sso-session {session}] has no {key}"))
                    })
                };
                let start_url = from_section("sso_start_url")?;
                let region = from_section("sso_region")?;
                // Where the profile repeats them, they must agree (as the SDKs check).
                for (key, expected) in [("sso_start_url", &start_url), ("sso_region", &region)] {
                    if value(props, key).is_some_and(|v| v != *expected) {
                        return Err(ProfileError::new(
                            name,
                            format!("its {key} differs from that of [sso-session {session}]"),
                        ));
                    }
                }
                (Some(session), start_url, region)
            }
            None => (None, required("sso_start_url")?, required("sso_region")?),
        };
        Ok(SsoSettings {
            session,
            start_url,
            region,
            account_id: required("sso_account_id")?,
            role_name: required("sso_role_name")?,
        })
    }

    /// The properties of a profile, if any file defines it.
    pub fn get(&self, name: &str) -> Option<&Properties> {
        self.profiles.get(name)
    }

    /// Works out where `name`'s credentials come from, following
    /// `source_profile` chains; `None` when no file defines the profile or it
    /// holds no credential settings at all (a `[default]` with only a
    /// `region` is common on EC2 and in containers, and must not stop the
    /// chain). Settings that are there but incomplete are an error.
    pub fn plan(&self, name: &str) -> Result<Option<Plan>, ProfileError> {
        let Some(props) = self.get(name) else {
            return Ok(None);
        };
        let credential_settings = props
            .keys()
            .any(|key| CREDENTIAL_KEYS.contains(&key.as_str()) || key.starts_with("sso_"));
        if !credential_settings {
            return Ok(None);
        }
        self.plan_from(name, &mut Vec::new()).map(Some)
    }

    fn plan_from(&self, name: &str, visited: &mut Vec<String>) -> Result<Plan, ProfileError> {
        let props = self.get(name).ok_or_else(|| {
            ProfileError::new(name, format!("source_profile '{name}' is not defined"))
        })?;
        let looped = visited.iter().any(|v| v == name);
        visited.push(name.to_string());
        if looped {
            return Err(ProfileError::new(
                &visited[0],
                format!("source_profile chain loops: {}", visited.join(" -> ")),
            ));
        }
        let value = |key: &str| props.get(key).filter(|v| !v.is_empty()).cloned();
        if let Some(role_arn) = value("role_arn") {
            let source = match (value("source_profile"), value("credential_source"), value("web_identity_token_file")) {
                (Some(_), Some(_), _) => {
                    return Err(ProfileError::new(
                        name,
                        "has both source_profile and credential_source; keep one".into(),
                    ))
                }
                // A profile may name itself as source: its own keys are the base.
                (Some(source), None, _) if source == name => match static_keys(props) {
                    Some(keys) => Plan::Static(keys),
                    None => {
                        return Err(ProfileError::new(
                            name,
                            "names itself as source_profile but has no aws_access_key_id/aws_secret_access_key".into(),
                        ))
                    }
                },
                (Some(source), None, _) => self.plan_from(&source, visited)?,
                (None, Some(source), _) => Plan::Source(CredentialSource::parse(&source).ok_or_else(|| {
                    ProfileError::new(
                        name,
                        format!("credential_source '{source}' is not one of Environment, Ec2InstanceMetadata, EcsContainer"),
                    )
                })?),
                (None, None, Some(token_file)) => {
                    return Ok(Plan::WebIdentity {
                        role_arn,
                        token_file,
                        session_name: value("role_session_name"),
                    })
                }
                (None, None, None) => {
                    return Err(ProfileError::new(
                        name,
                        "has role_arn but neither source_profile nor credential_source".into(),
                    ))
                }
            };
            let duration_seconds = match value("duration_seconds") {
                None => None,
                Some(text) => Some(text.parse::<u32>().map_err(|_| {
                    ProfileError::new(
                        name,
                        format!("duration_seconds '{text}' is not a number of seconds"),
                    )
                })?),
            };
            return Ok(Plan::AssumeRole {
                role: RoleSettings {
                    role_arn,
                    session_name: value("role_session_name"),
                    external_id: value("external_id"),
                    duration_seconds,
                },
                source: Box::new(source),
            });
        }
        if let Some(keys) = static_keys(props) {
            return Ok(Plan::Static(keys));
        }
        if let Some(command) = value("credential_process") {
            return Ok(Plan::Process { command });
        }
        if props.keys().any(|k| k.starts_with("sso_")) {
            return self.sso_plan(name, props).map(Plan::Sso);
        }
        Err(ProfileError::new(
            name,
            "has no credentials: set aws_access_key_id and aws_secret_access_key, role_arn with source_profile or credential_source, or credential_process".into(),
        ))
    }
}

/// The section a header opens, for this file kind, if it is one of ours.
fn section_name(header: &str, kind: FileKind) -> Option<Section> {
    let inner = header.strip_prefix('[')?.split(']').next()?.trim();
    let named = |prefix: &str| {
        inner
            .strip_prefix(prefix)
            .filter(|rest| rest.starts_with([' ', '\t']))
            .map(|rest| rest.trim().to_string())
    };
    match kind {
        FileKind::Credentials => Some(Section::Profile(inner.to_string())),
        FileKind::Config => {
            if let Some(name) = named("profile") {
                Some(Section::Profile(name))
            } else if let Some(name) = named("sso-session") {
                Some(Section::SsoSession(name))
            } else if inner == "default" {
                Some(Section::Profile(inner.to_string()))
            } else {
                // `[name]` in the config file is not a profile (the SDKs
                // ignore it too); `[services x]` is another kind of section.
                None
            }
        }
    }
}

/// Drops a trailing ` # comment` or ` ; comment` from a value.
fn strip_comment(value: &str) -> &str {
    let cut = value
        .char_indices()
        .find(|&(i, c)| (c == '#' || c == ';') && i > 0 && value[..i].ends_with([' ', '\t']))
        .map(|(i, _)| i);
    match cut {
        Some(i) => value[..i].trim_end(),
        None => value,
    }
}

fn static_keys(props: &Properties) -> Option<StaticKeys> {
    let get = |k: &str| props.get(k).filter(|v| !v.is_empty()).cloned();
    Some(StaticKeys {
        access_key_id: get("aws_access_key_id")?,
        secret_access_key: get("aws_secret_access_key")?,
        session_token: get("aws_session_token"),
    })
}

/// Long-term (or pasted temporary) keys from a profile.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for StaticKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StaticKeys({}, ** redacted **)", self.access_key_id)
    }
}

/// The role a profile assumes, and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSettings {
    pub role_arn: String,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
    pub duration_seconds: Option<u32>,
}

/// A `credential_source`: where the base credentials of a role come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CredentialSource {
    Environment,
    Ec2InstanceMetadata,
    EcsContainer,
}

impl CredentialSource {
    fn parse(text: &str) -> Option<CredentialSource> {
        match text {
            "Environment" => Some(CredentialSource::Environment),
            "Ec2InstanceMetadata" => Some(CredentialSource::Ec2InstanceMetadata),
            "EcsContainer" => Some(CredentialSource::EcsContainer),
            _ => None,
        }
    }
}

/// Where IAM Identity Center hands out a profile's role credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoSettings {
    /// The `sso_session` name; `None` for the legacy form.
    pub session: Option<String>,
    pub start_url: String,
    pub region: String,
    pub account_id: String,
    pub role_name: String,
}

/// Where a profile's credentials come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    Static(StaticKeys),
    /// IAM Identity Center (`aws sso login`).
    Sso(SsoSettings),
    Process {
        command: String,
    },
    Source(CredentialSource),
    WebIdentity {
        role_arn: String,
        token_file: String,
        session_name: Option<String>,
    },
    AssumeRole {
        role: RoleSettings,
        source: Box<Plan>,
    },
}

/// A profile that is defined but cannot give credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileError {
    pub profile: String,
    pub problem: String,
}

impl ProfileError {
    fn new(profile: &str, problem: String) -> ProfileError {
        ProfileError {
            profile: profile.to_string(),
            problem,
        }
    }
}

impl fmt::Display for ProfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "profile '{}' {}", self.profile, self.problem)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "\
# a comment
[default]
region = eu-west-1 ; inline comment
output=json

[profile deploy]
region = us-east-1
role_arn = arn:aws:iam::123456789012:role/deployer
source_profile = base
role_session_name = ci
external_id = ext-123
duration_seconds = 1800
s3 =
  max_concurrent_requests = 10
  multipart_threshold = 64MB

[profile base]
aws_access_key_id = FROMCONFIG

[notaprofile]
aws_access_key_id = IGNORED

[sso-session corp]
sso_region = us-east-1

[profile tool]
credential_process = /usr/local/bin/creds --account 1 # fetch

[profile onbox]
role_arn = arn:aws:iam::123456789012:role/r
credential_source = Ec2InstanceMetadata

[profile loop-a]
role_arn = arn:aws:iam::1:role/a
source_profile = loop-b

[profile loop-b]
role_arn = arn:aws:iam::1:role/b
source_profile = loop-a
";

    const CREDENTIALS: &str = "\
[default]
aws_access_key_id = DEFAULTKEY
aws_secret_access_key = defaultsecret

[base]
aws_access_key_id = BASEKEY
aws_secret_access_key = basesecret
aws_session_token = basetoken
";

    fn profiles() -> Profiles {
        Profiles::parse(CONFIG, CREDENTIALS).unwrap()
    }

    #[test]
    fn lines_the_aws_cli_refuses_are_refused_with_their_number() {
        let at = |config: &str| Profiles::parse(config, "").err();
        let problem = |line, problem| {
            Some(SyntaxError {
                kind: FileKind::Config,
                line,
                problem,
            })
        };
        assert_eq!(
            at("# keys\n[default\nregion = x\n"),
            problem(2, "a section header without its closing ']'")
        );
        assert_eq!(at("[]\n"), problem(1, "a section header without a name"));
        assert_eq!(
            at("region = x\n[default]\n"),
            problem(1, "a setting before the first [section] header")
        );
        assert_eq!(
            at("[default]\nAKIASECRETLOOKING\n"),
            problem(2, "neither a [section] header nor a 'name = value' setting")
        );
        assert!(Profiles::parse("", "[x]\n[y\n").is_err_and(|e| e.kind == FileKind::Credentials));
        assert!(at("[default]\ns3 =\n  max = 1\n; c\n\n[sso-session x]\na = b\n").is_none());
    }

    fn keys(id: &str, secret: &str, token: Option<&str>) -> Plan {
        Plan::Static(StaticKeys {
            access_key_id: id.into(),
            secret_access_key: secret.into(),
            session_token: token.map(str::to_string),
        })
    }

    #[test]
    fn sections_comments_and_continuations() {
        let p = profiles();
        let default = p.get("default").unwrap();
        assert_eq!(default["region"], "eu-west-1");
        assert_eq!(default["output"], "json");
        assert_eq!(default["aws_access_key_id"], "DEFAULTKEY");
        assert_eq!(
            p.get("deploy").unwrap()["s3"],
            "max_concurrent_requests = 10\nmultipart_threshold = 64MB"
        );
        assert!(
            p.get("notaprofile").is_none(),
            "[name] in config is not a profile"
        );
        assert!(p.get("corp").is_none() && p.get("sso-session corp").is_none());
        assert_eq!(
            p.get("tool").unwrap()["credential_process"],
            "/usr/local/bin/creds --account 1"
        );
    }

    #[test]
    fn credentials_file_keys_win() {
        assert_eq!(
            profiles().get("base").unwrap()["aws_access_key_id"],
            "BASEKEY"
        );
    }

    #[test]
    fn plans() {
        let p = profiles();
        assert_eq!(
            p.plan("default").unwrap(),
            Some(keys("DEFAULTKEY", "defaultsecret", None))
        );
        assert_eq!(p.plan("missing").unwrap(), None);
        assert_eq!(
            p.plan("deploy").unwrap(),
            Some(Plan::AssumeRole {
                role: RoleSettings {
                    role_arn: "arn:aws:iam::123456789012:role/deployer".into(),
                    session_name: Some("ci".into()),
                    external_id: Some("ext-123".into()),
                    duration_seconds: Some(1800),
                },
                source: Box::new(keys("BASEKEY", "basesecret", Some("basetoken"))),
            })
        );
        assert_eq!(
            p.plan("tool").unwrap(),
            Some(Plan::Process {
                command: "/usr/local/bin/creds --account 1".into()
            })
        );
        let Some(Plan::AssumeRole { source, .. }) = p.plan("onbox").unwrap() else {
            panic!()
        };
        assert_eq!(*source, Plan::Source(CredentialSource::Ec2InstanceMetadata));
    }

    #[test]
    fn bad_profiles_are_explained() {
        let p = profiles();
        let err = p.plan("loop-a").unwrap_err();
        assert!(
            err.to_string().contains("loop-a -> loop-b -> loop-a"),
            "{err}"
        );
        let err = Profiles::parse("[profile r]\nrole_arn = x\n", "")
            .unwrap()
            .plan("r")
            .unwrap_err();
        assert!(
            err.to_string()
                .contains("neither source_profile nor credential_source"),
            "{err}"
        );
        let err = Profiles::parse(
            "[profile r]\nrole_arn = x\ncredential_source = Laptop\n",
            "",
        )
        .unwrap()
        .plan("r")
        .unwrap_err();
        assert!(err.to_string().contains("'Laptop'"), "{err}");
        let err = Profiles::parse("[profile s]\nsso_start_url = https://x\n", "")
            .unwrap()
            .plan("s")
            .unwrap_err();
        assert!(err.to_string().contains("sso"), "{err}");
        let err = Profiles::parse("[profile e]\naws_access_key_id = K\n", "")
            .unwrap()
            .plan("e")
            .unwrap_err();
        assert!(err.to_string().contains("has no credentials"), "{err}");
        // A profile with no credential settings at all is not an error: the chain goes on.
        let only_region = Profiles::parse("[default]\nregion = us-east-1\n", "").unwrap();
        assert_eq!(only_region.plan("default").unwrap(), None);
        let err = Profiles::parse("[profile r]\nrole_arn = x\nsource_profile = gone\n", "")
            .unwrap()
            .plan("r")
            .unwrap_err();
        assert!(err.to_string().contains("'gone' is not defined"), "{err}");
    }

    #[test]
    fn identity_center_profiles_in_both_forms() {
        let config = "[profile legacy]\nsso_start_url = https://a.awsapps.com/start\nsso_region = eu-west-1\nsso_account_id = 1\nsso_role_name = R\n\n[profile new]\nsso_session = corp\nsso_account_id = 2\nsso_role_name = S\n\n[sso-session corp]\nsso_start_url = https://b.awsapps.com/start\nsso_region = us-east-2\n\n[profile role]\nrole_arn = arn:aws:iam::2:role/x\nsource_profile = new\n\n[profile nosession]\nsso_session = gone\nsso_account_id = 2\nsso_role_name = S\n\n[profile mismatch]\nsso_session = corp\nsso_start_url = https://other/start\nsso_account_id = 2\nsso_role_name = S\n";
        let p = Profiles::parse(config, "").unwrap();
        let sso = |name: &str| match p.plan(name).unwrap() {
            Some(Plan::Sso(settings)) => settings,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            sso("legacy"),
            SsoSettings {
                session: None,
                start_url: "https://a.awsapps.com/start".into(),
                region: "eu-west-1".into(),
                account_id: "1".into(),
                role_name: "R".into(),
            }
        );
        let new = sso("new");
        assert_eq!(new.session.as_deref(), Some("corp"));
        assert_eq!(new.region, "us-east-2");
        let Some(Plan::AssumeRole { source, .. }) = p.plan("role").unwrap() else {
            panic!()
        };
        assert!(matches!(*source, Plan::Sso(_)));
        for (name, says) in [
            ("nosession", "no [sso-session gone] section"),
            ("mismatch", "sso_start_url differs"),
        ] {
            let err = p.plan(name).unwrap_err().to_string();
            assert!(err.contains(says), "{name}: {err}");
        }
        // An sso-session section is not a profile.
        assert!(p.get("corp").is_none());
    }

    #[test]
    fn a_profile_may_be_its_own_source() {
        let p = Profiles::parse(
            "",
            "[me]\nrole_arn = arn:aws:iam::1:role/x\nsource_profile = me\naws_access_key_id = K\naws_secret_access_key = S\n",
        ).unwrap();
        let Some(Plan::AssumeRole { source, .. }) = p.plan("me").unwrap() else {
            panic!()
        };
        assert_eq!(*source, keys("K", "S", None));
    }

    #[test]
    fn debug_output_hides_secrets() {
        let shown = format!("{:?}", profiles().plan("default").unwrap());
        assert!(!shown.contains("defaultsecret"), "{shown}");
    }
}
