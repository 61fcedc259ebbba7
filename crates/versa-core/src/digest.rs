//! Content digests: blake3 over bytes, shown as `b3:` plus 64 lowercase hex digits.
//!
//! A digest is the identity of an immutable blob (dataset, transform, weights,
//! manifest). Two things with the same digest are the same thing.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const PREFIX: &str = "b3:";

/// A blake3 content digest.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

impl Digest {
    /// Digest of a byte slice.
    pub fn of(bytes: &[u8]) -> Self {
        Digest(*blake3::hash(bytes).as_bytes())
    }

    /// Wraps raw digest bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Digest(bytes)
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lowercase hex digits, without the `b3:` prefix (used for blob paths).
    pub fn to_hex(&self) -> String {
        let mut out = String::with_capacity(64);
        for byte in self.0 {
            out.push(char::from_digit(u32::from(byte >> 4), 16).unwrap_or('0'));
            out.push(char::from_digit(u32::from(byte & 0xf), 16).unwrap_or('0'));
        }
        out
    }

    /// The first 12 hex digits: enough for humans to tell versions apart.
    pub fn short(&self) -> String {
        self.to_hex()[..12].to_string()
    }

    /// Parses 64 hex digits with or without the `b3:` prefix.
    pub fn parse(text: &str) -> Result<Self, DigestParseError> {
        let hex = text.strip_prefix(PREFIX).unwrap_or(text);
        if hex.len() != 64 {
            return Err(DigestParseError {
                input: text.to_string(),
                reason: "expected 64 hex digits, optionally prefixed by `b3:`",
            });
        }
        let mut out = [0u8; 32];
        let bytes = hex.as_bytes();
        for (i, slot) in out.iter_mut().enumerate() {
            let hi = hex_value(bytes[2 * i]);
            let lo = hex_value(bytes[2 * i + 1]);
            match (hi, lo) {
                (Some(hi), Some(lo)) => *slot = (hi << 4) | lo,
                _ => {
                    return Err(DigestParseError {
                        input: text.to_string(),
                        reason: "contains a character that is not a lowercase hex digit",
                    });
                }
            }
        }
        Ok(Digest(out))
    }
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        _ => None,
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{}", self.to_hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({PREFIX}{})", self.short())
    }
}

impl FromStr for Digest {
    type Err = DigestParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Digest::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A digest string that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest `{input}`: {reason}")]
pub struct DigestParseError {
    input: String,
    reason: &'static str,
}

/// Incremental digest computation, for content that arrives in pieces.
#[derive(Default)]
pub struct Hasher(blake3::Hasher);

impl Hasher {
    /// A fresh hasher.
    pub fn new() -> Self {
        Hasher(blake3::Hasher::new())
    }

    /// Feeds bytes.
    pub fn update(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(bytes);
        self
    }

    /// Feeds a length-prefixed field, so that `("ab","c")` and `("a","bc")` differ.
    pub fn update_field(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    /// The digest of everything fed so far.
    pub fn finish(&self) -> Digest {
        Digest(*self.0.finalize().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_text() {
        let d = Digest::of(b"versa");
        let text = d.to_string();
        assert!(text.starts_with("b3:"));
        assert_eq!(text.len(), 67);
        assert_eq!(Digest::parse(&text).unwrap(), d);
        assert_eq!(Digest::parse(&d.to_hex()).unwrap(), d);
    }

    #[test]
    fn matches_blake3_reference_vector() {
        // blake3 of the empty input, from the BLAKE3 test vectors.
        assert_eq!(
            Digest::of(b"").to_hex(),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    #[test]
    fn rejects_bad_text_with_reason() {
        let err = Digest::parse("b3:xyz").unwrap_err();
        assert!(err.to_string().contains("expected 64 hex digits"), "{err}");
        let err = Digest::parse(&"G".repeat(64)).unwrap_err();
        assert!(
            err.to_string().contains("not a lowercase hex digit"),
            "{err}"
        );
    }

    #[test]
    fn length_prefixed_fields_do_not_collide() {
        let mut a = Hasher::new();
        a.update_field(b"ab").update_field(b"c");
        let mut b = Hasher::new();
        b.update_field(b"a").update_field(b"bc");
        assert_ne!(a.finish(), b.finish());
    }
}
