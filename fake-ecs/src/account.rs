//! The AWS account the fake plays: its id and region, the credentials it accepts, and the ARNs
//! of its ECS resources. The crate root re-exports the constants.

/// The AWS account id in every ARN the fake makes.
pub const ACCOUNT: &str = "123456789012";
/// The only region the fake accepts in a SigV4 credential scope.
pub const REGION: &str = "us-east-1";
/// The access key id the fake accepts (what tests pass as `AWS_ACCESS_KEY_ID`).
pub const ACCESS_KEY: &str = "AKIAFAKEECSDEPLOY001";
/// A secret key to pair with [`ACCESS_KEY`]; the fake never verifies signatures, only their shape.
pub const SECRET_KEY: &str = "fake/secret/key/for/tests/only/0000000000";

/// The ARN prefix of every resource the fake makes.
pub(crate) fn arn(resource: &str) -> String {
    format!("arn:aws:ecs:{REGION}:{ACCOUNT}:{resource}")
}
