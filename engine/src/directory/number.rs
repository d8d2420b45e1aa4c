//! Phone numbers as apps own them: E.164 digits without the `+`. Pure.

/// Why a number request is refused. Each kind maps to one stable API error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NumberError {
    #[error("invalid number: {0}")]
    Invalid(&'static str),
    #[error("the number is already assigned")]
    Taken,
    #[error("number does not exist")]
    NoSuchNumber,
    #[error("app does not exist")]
    NoSuchApp,
    #[error("storage failure")]
    Store,
}

/// The stored form of a number: 1 to 15 ASCII digits (E.164's maximum), a leading `+`
/// accepted and dropped, surrounding whitespace ignored. Nothing else is rewritten (no
/// separators, no national prefixes): what is stored is exactly what a call's `To` must carry.
pub fn normalize(number: &str) -> Result<String, NumberError> {
    let n = number.trim();
    let digits = n.strip_prefix('+').unwrap_or(n);
    if digits.is_empty() || digits.len() > 15 {
        return Err(NumberError::Invalid("1 to 15 digits (E.164)"));
    }
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NumberError::Invalid(
            "digits only, with an optional leading +",
        ));
    }
    Ok(digits.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e164_digits() {
        assert_eq!(normalize("+14155550100").unwrap(), "14155550100");
        assert_eq!(normalize(" 14155550100 ").unwrap(), "14155550100");
        assert_eq!(normalize("1").unwrap(), "1");
        assert_eq!(normalize("123456789012345").unwrap(), "123456789012345");
        for bad in [
            "",
            "+",
            "1234567890123456",
            "++1",
            "1-415",
            "1 415",
            "0x1",
            "١٢٣",
        ] {
            assert!(normalize(bad).is_err(), "{bad}");
        }
    }
}
