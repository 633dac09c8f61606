//! Commands ecs-deploy suggests (`aws ecs describe-services …`), written
//! so that they do exactly what they say when pasted into a POSIX shell.

/// A command line to suggest, each word quoted for a POSIX shell where it
/// needs to be: ids and ARNs come from AWS answers, and a suggestion must
/// do exactly what it says when pasted, whatever they hold.
pub fn command_line(words: &[&str]) -> String {
    words
        .iter()
        .map(|word| shell_word(word))
        .collect::<Vec<_>>()
        .join(" ")
}

/// One word for a POSIX shell: as it is when it holds only characters no
/// shell treats specially, else in single quotes (a `'` inside as `'\''`).
fn shell_word(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggested_commands_paste_as_they_read() {
        assert_eq!(
            command_line(&["aws", "ecs", "describe-services", "--cluster", "prod", "--services", "arn:aws:ecs:us-east-1:1:service/prod/web"]),
            "aws ecs describe-services --cluster prod --services arn:aws:ecs:us-east-1:1:service/prod/web"
        );
        assert_eq!(
            command_line(&["--hook-id", "h1; rm -rf ~", "x'y", "$(id)", ""]),
            "--hook-id 'h1; rm -rf ~' 'x'\\''y' '$(id)' ''"
        );
    }
}
