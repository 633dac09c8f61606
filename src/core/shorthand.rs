//! The aws-cli "shorthand" syntax for structured options, as upstream's
//! `--network-configuration` takes it:
//! `awsvpcConfiguration={subnets=[a,b],securityGroups=[c],assignPublicIp=ENABLED}`.
//! JSON is accepted too. Pure.

use serde_json::{Map, Value};

/// Parses a `--network-configuration` value (shorthand or JSON) and checks
/// that it names at least one subnet, as ECS requires.
pub fn network_configuration(text: &str) -> Result<Value, String> {
    let text = text.trim();
    let value = if text.starts_with('{') {
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?
    } else {
        parse(text)?
    };
    let subnets = &value["awsvpcConfiguration"]["subnets"];
    let has_subnets = subnets
        .as_array()
        .is_some_and(|s| !s.is_empty() && s.iter().all(Value::is_string));
    if !has_subnets {
        return Err(format!(
            "'{text}' must contain awsvpcConfiguration with at least one subnet, e.g. awsvpcConfiguration={{subnets=[subnet-123],securityGroups=[sg-456],assignPublicIp=DISABLED}}"
        ));
    }
    Ok(value)
}

/// Parses `key=value,key=value` where a value is `{…}` (the same again),
/// `[a,b]` (a list) or text; every scalar becomes a JSON string.
pub fn parse(text: &str) -> Result<Value, String> {
    let mut parser = Parser {
        chars: text.chars().collect(),
        at: 0,
    };
    let value = parser.structure(None)?;
    if parser.at < parser.chars.len() {
        return Err(parser.error("unexpected text"));
    }
    Ok(value)
}

struct Parser {
    chars: Vec<char>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn error(&self, what: &str) -> String {
        format!("{what} at character {} of the shorthand", self.at + 1)
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.peek() == Some(c) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.error(&format!("expected '{c}'")))
        }
    }

    /// `key=value,…` up to `close` (or the end when `close` is `None`).
    fn structure(&mut self, close: Option<char>) -> Result<Value, String> {
        let mut map = Map::new();
        loop {
            let key = self.scalar(&['='])?;
            if key.is_empty() {
                return Err(self.error("expected a key"));
            }
            self.expect('=')?;
            let value = self.value(close)?;
            map.insert(key, value);
            match self.peek() {
                Some(',') => self.at += 1,
                c if c == close => return Ok(Value::Object(map)),
                None => return Err(self.error("expected '}'")),
                _ => return Err(self.error("expected ',' or the end")),
            }
        }
    }

    fn value(&mut self, close: Option<char>) -> Result<Value, String> {
        match self.peek() {
            Some('{') => {
                self.at += 1;
                let value = self.structure(Some('}'))?;
                self.expect('}')?;
                Ok(value)
            }
            Some('[') => {
                self.at += 1;
                let mut items = Vec::new();
                if self.peek() == Some(']') {
                    self.at += 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(Value::String(self.scalar(&[',', ']'])?));
                    match self.peek() {
                        Some(',') => self.at += 1,
                        Some(']') => {
                            self.at += 1;
                            return Ok(Value::Array(items));
                        }
                        _ => return Err(self.error("expected ',' or ']'")),
                    }
                }
            }
            _ => {
                let stops: Vec<char> = [','].into_iter().chain(close).collect();
                Ok(Value::String(self.scalar(&stops)?))
            }
        }
    }

    /// Text up to one of `stops`, trimmed.
    fn scalar(&mut self, stops: &[char]) -> Result<String, String> {
        let start = self.at;
        while let Some(c) = self.peek() {
            if stops.contains(&c) || matches!(c, '{' | '}' | '[' | ']') {
                break;
            }
            self.at += 1;
        }
        Ok(self.chars[start..self.at]
            .iter()
            .collect::<String>()
            .trim()
            .to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn upstream_shorthand() {
        let value = network_configuration(
            "awsvpcConfiguration={subnets=[subnet-1,subnet-2],securityGroups=[sg-9],assignPublicIp=ENABLED}",
        )
        .unwrap();
        assert_eq!(
            value,
            json!({"awsvpcConfiguration": {
                "subnets": ["subnet-1", "subnet-2"],
                "securityGroups": ["sg-9"],
                "assignPublicIp": "ENABLED"
            }})
        );
    }

    #[test]
    fn json_is_accepted_too() {
        let json =
            r#"{"awsvpcConfiguration": {"subnets": ["subnet-1"], "assignPublicIp": "DISABLED"}}"#;
        assert_eq!(
            network_configuration(json).unwrap()["awsvpcConfiguration"]["assignPublicIp"],
            "DISABLED"
        );
    }

    #[test]
    fn mistakes_are_reported() {
        assert!(network_configuration("awsvpcConfiguration={subnets=[]}").is_err());
        assert!(network_configuration("awsvpcConfiguration={securityGroups=[sg-1]}").is_err());
        assert!(network_configuration("awsvpcConfiguration={subnets=[a]")
            .unwrap_err()
            .contains("expected '}'"));
        assert!(network_configuration("{not json")
            .unwrap_err()
            .contains("JSON"));
        assert!(parse("=x").unwrap_err().contains("expected a key"));
        assert!(parse("a=b}").is_err());
    }
}
