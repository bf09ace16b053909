//! A policy file: a YAML or JSON mapping of rule names to rule strings, as
//! oslo.policy reads one. JSON is tried first when the text opens with `{`
//! (a JSON document is YAML too, but the JSON reader's errors are clearer).

use yaml_rust2::{Yaml, YamlLoader};

/// The `(name, rule)` pairs of a policy file's text, in the file's order;
/// the error is the reason, without the file's name.
pub(crate) fn parse(text: &str) -> Result<Vec<(String, String)>, String> {
    if text.trim_start().starts_with('{')
        && let Ok(value) = serde_json::from_str::<serde_json::Value>(text)
    {
        return from_json(value);
    }
    let mut documents = YamlLoader::load_from_str(text).map_err(|e| e.to_string())?;
    match documents.len() {
        0 => Ok(Vec::new()),
        1 => from_yaml(documents.remove(0)),
        _ => Err("more than one YAML document".into()),
    }
}

fn from_json(value: serde_json::Value) -> Result<Vec<(String, String)>, String> {
    let serde_json::Value::Object(map) = value else {
        return Err("not a mapping of rule names to rules".into());
    };
    map.into_iter()
        .map(|(name, rule)| match rule {
            serde_json::Value::String(rule) => Ok((name, rule)),
            other => Err(format!("rule {name:?}: {other} is not a string")),
        })
        .collect()
}

fn from_yaml(document: Yaml) -> Result<Vec<(String, String)>, String> {
    let hash = match document {
        Yaml::Hash(hash) => hash,
        // An empty file or one of comments only, as the sample is.
        Yaml::Null => return Ok(Vec::new()),
        _ => return Err("not a mapping of rule names to rules".into()),
    };
    hash.into_iter()
        .map(|(name, rule)| {
            let Yaml::String(name) = name else {
                return Err(format!("{name:?} is not a rule name"));
            };
            match rule {
                Yaml::String(rule) => Ok((name, rule)),
                _ => Err(format!(
                    "rule {name:?}: the rule is not a string (quote it: \"{name}\": \"...\")"
                )),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn yaml_and_json_files_give_their_rules() {
        let table = [
            ("", pairs(&[])),
            ("# only comments\n", pairs(&[])),
            (
                "\"movie:delete\": \"role:admin\"\nmovie:get: ''\n",
                pairs(&[("movie:delete", "role:admin"), ("movie:get", "")]),
            ),
            (
                "{\n\t\"movie:delete\": \"role:admin\",\n\t\"x\": \"@\"\n}\n",
                pairs(&[("movie:delete", "role:admin"), ("x", "@")]),
            ),
            ("{movie:get: '!'}", pairs(&[("movie:get", "!")])),
        ];
        for (text, expected) in table {
            assert_eq!(parse(text), Ok(expected), "{text:?}");
        }
    }

    #[test]
    fn files_that_are_not_a_mapping_of_strings_are_refused() {
        for text in [
            "- a\n- b\n",
            "just text",
            "movie:get: 3\n",
            "movie:get:\n",
            "{\"movie:get\": true}",
            "a: b\n---\nc: d\n",
            "a: [b\n",
        ] {
            assert!(parse(text).is_err(), "{text:?}: {:?}", parse(text));
        }
    }
}
