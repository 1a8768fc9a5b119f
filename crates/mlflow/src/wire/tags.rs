//! Key/value pairs (tags, params) as they travel.

use cairn_domain::{Param, Tag};
use serde::{Deserialize, Serialize};

use super::lenient;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct KeyValue {
    #[serde(default)]
    pub key: String,
    #[serde(default, deserialize_with = "lenient::opt_string")]
    pub value: Option<String>,
}

impl KeyValue {
    pub fn tag(self) -> Tag {
        Tag {
            key: self.key,
            value: self.value.unwrap_or_default(),
        }
    }
    pub fn param(self) -> Param {
        Param {
            key: self.key,
            value: self.value.unwrap_or_default(),
        }
    }
}

impl From<&Tag> for KeyValue {
    fn from(t: &Tag) -> Self {
        Self {
            key: t.key.clone(),
            value: Some(t.value.clone()),
        }
    }
}

impl From<&Param> for KeyValue {
    fn from(p: &Param) -> Self {
        Self {
            key: p.key.clone(),
            value: Some(p.value.clone()),
        }
    }
}

pub fn tags(list: Vec<KeyValue>) -> Vec<Tag> {
    list.into_iter().map(KeyValue::tag).collect()
}

pub fn out<'a, T: 'a>(list: impl IntoIterator<Item = &'a T>) -> Vec<KeyValue>
where
    KeyValue: From<&'a T>,
{
    list.into_iter().map(KeyValue::from).collect()
}
