//! Field-by-field JSON reading so that every rejection names its field
//! (`serde_json::from_value` reports type errors without a path).

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::error::ParamError;

pub(crate) struct Fields {
    prefix: String,
    map: Map<String, Value>,
}

impl Fields {
    /// Accepts an object whose keys are all in `allowed`. `null` counts as `{}` so
    /// that verifiers may omit params entirely.
    pub(crate) fn new(prefix: &str, value: &Value, allowed: &[&str]) -> Result<Self, ParamError> {
        let map = match value {
            Value::Null => Map::new(),
            Value::Object(m) => m.clone(),
            other => {
                let field = if prefix.is_empty() { "params" } else { prefix };
                return Err(ParamError::new(
                    field,
                    format!("expected an object, got {other}"),
                ));
            }
        };
        let fields = Fields {
            prefix: prefix.to_string(),
            map,
        };
        if let Some(unknown) = fields.map.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(ParamError::new(
                fields.path(unknown),
                format!("unknown field (expected one of: {})", allowed.join(", ")),
            ));
        }
        Ok(fields)
    }

    pub(crate) fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    /// The field if present and not `null`.
    pub(crate) fn optional<T: DeserializeOwned>(
        &self,
        name: &str,
    ) -> Result<Option<T>, ParamError> {
        match self.map.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| ParamError::new(self.path(name), e.to_string())),
        }
    }

    pub(crate) fn required<T: DeserializeOwned>(&self, name: &str) -> Result<T, ParamError> {
        self.optional(name)?
            .ok_or_else(|| ParamError::new(self.path(name), "is required"))
    }

    pub(crate) fn raw(&self, name: &str) -> Option<&Value> {
        self.map.get(name).filter(|v| !v.is_null())
    }
}
