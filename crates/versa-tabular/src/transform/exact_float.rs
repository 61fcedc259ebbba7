//! Fitted floats on disk: written as JSON strings holding the shortest decimal
//! that round-trips (`"40.5"`, `"-4.0775658593714837e164"`), read back with
//! Rust's exactly rounded parser.
//!
//! Why not JSON numbers: serde_json's default number parser is not exactly
//! rounded (it can land one ulp off for long mantissas unless the
//! `float_roundtrip` feature is on somewhere in the build), and a fitted mean
//! one ulp off would break both the digest of a re-saved transform and the
//! bit-for-bit agreement between training and serving. Strings make the
//! format exact whatever features the build enables.

use std::fmt;

use serde::{Deserialize, Deserializer, Serializer};

/// The canonical text of a finite float: plain notation for everyday
/// magnitudes, scientific otherwise; both are Rust's shortest round-trip digits.
struct Shortest(f64);

impl fmt::Display for Shortest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let magnitude = self.0.abs();
        if magnitude == 0.0 || (1e-5..1e16).contains(&magnitude) {
            write!(f, "{}", self.0)
        } else {
            write!(f, "{:e}", self.0)
        }
    }
}

fn parse<E: serde::de::Error>(text: &str) -> Result<f64, E> {
    match text.parse::<f64>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(E::custom(format!(
            "expected a finite number written as a string, got {text:?}"
        ))),
    }
}

pub(super) fn serialize<S: Serializer>(x: &f64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&Shortest(*x))
}

pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    parse(&String::deserialize(deserializer)?)
}

/// The same for optional `(low, high)` bounds.
pub(super) mod bounds {
    use super::*;

    pub(in crate::transform) fn serialize<S: Serializer>(
        bounds: &Option<(f64, f64)>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match bounds {
            None => serializer.serialize_none(),
            Some((low, high)) => {
                let pair = [Shortest(*low).to_string(), Shortest(*high).to_string()];
                serializer.serialize_some(&pair)
            }
        }
    }

    pub(in crate::transform) fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<(f64, f64)>, D::Error> {
        match Option::<[String; 2]>::deserialize(deserializer)? {
            None => Ok(None),
            Some([low, high]) => Ok(Some((parse(&low)?, parse(&high)?))),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    #[derive(Debug, serde::Serialize, serde::Deserialize)]
    struct Holder {
        #[serde(with = "super")]
        x: f64,
    }

    #[test]
    fn text_is_readable_and_canonical() {
        let text = |x: f64| serde_json::to_string(&Holder { x }).unwrap();
        assert_eq!(text(40.5), r#"{"x":"40.5"}"#);
        assert_eq!(text(-0.0), r#"{"x":"-0"}"#);
        assert_eq!(text(1e300), r#"{"x":"1e300"}"#);
        assert_eq!(text(0.1 + 0.2), r#"{"x":"0.30000000000000004"}"#);
        assert_eq!(text(1.5e-7), r#"{"x":"1.5e-7"}"#);
        let error = serde_json::from_str::<Holder>(r#"{"x":"inf"}"#).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("expected a finite number written as a string, got \"inf\"")
        );
        assert!(serde_json::from_str::<Holder>(r#"{"x":1.5}"#).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(5000))]
        #[test]
        fn every_finite_float_round_trips_exactly(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
            let text = serde_json::to_vec(&Holder { x }).unwrap();
            let back: Holder = serde_json::from_slice(&text).unwrap();
            prop_assert_eq!(back.x.to_bits(), x.to_bits());
        }
    }
}
