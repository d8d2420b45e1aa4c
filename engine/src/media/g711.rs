//! ITU-T G.711 μ-law (PCMU) and A-law (PCMA) as lookup tables, built at compile time.
//!
//! # Contract
//!
//! * Linear samples are 16-bit (`i16`); G.711 codes are one byte per sample.
//! * Encoding follows the ITU reference (G.191 STL): μ-law looks at the 14 most significant
//!   bits, A-law at the 13 most significant, and negative values are taken as their one's
//!   complement, so every input maps to the code whose decision interval contains it.
//! * Decoding returns the middle of the code's interval (μ-law: 0xFF → 0, 0x00 → −32124;
//!   A-law: 0xD5 → 8, 0x2A → −32256).
//! * μ↔A transcoding is decode-then-encode through the tables above, one table lookup per
//!   byte, so a relayed packet can be converted in place on the fast path.
//!
//! Pure and allocation-free.

/// μ-law bias in the 14-bit domain (132 in the 16-bit domain).
const ULAW_BIAS: i32 = 33;
/// Largest biased 14-bit magnitude μ-law can represent.
const ULAW_MAX: i32 = 0x1FFF;

/// Decode one μ-law code to a linear sample.
pub fn ulaw_to_linear(code: u8) -> i16 {
    ULAW_DECODE[usize::from(code)]
}

/// Decode one A-law code to a linear sample.
pub fn alaw_to_linear(code: u8) -> i16 {
    ALAW_DECODE[usize::from(code)]
}

/// Encode one linear sample to μ-law.
pub fn linear_to_ulaw(sample: i16) -> u8 {
    // `>> 2` keeps the 14 bits μ-law looks at; the offset makes the index non-negative.
    ULAW_ENCODE[((i32::from(sample) >> 2) + 8192) as usize]
}

/// Encode one linear sample to A-law.
pub fn linear_to_alaw(sample: i16) -> u8 {
    ALAW_ENCODE[((i32::from(sample) >> 3) + 4096) as usize]
}

/// Convert one μ-law code to the A-law code of (nearly) the same level.
pub fn ulaw_to_alaw(code: u8) -> u8 {
    ULAW_TO_ALAW[usize::from(code)]
}

/// Convert one A-law code to the μ-law code of (nearly) the same level.
pub fn alaw_to_ulaw(code: u8) -> u8 {
    ALAW_TO_ULAW[usize::from(code)]
}

/// Convert a μ-law payload to A-law in place (one table lookup per byte, no call per byte,
/// so the loop compiles to straight table loads).
pub fn ulaw_to_alaw_in_place(payload: &mut [u8]) {
    for code in payload {
        *code = ULAW_TO_ALAW[usize::from(*code)];
    }
}

/// Convert an A-law payload to μ-law in place.
pub fn alaw_to_ulaw_in_place(payload: &mut [u8]) {
    for code in payload {
        *code = ALAW_TO_ULAW[usize::from(*code)];
    }
}

const fn ulaw_decode(code: u8) -> i16 {
    let inverted = !code;
    let exponent = ((inverted >> 4) & 0x07) as i32;
    let mantissa = (inverted & 0x0F) as i32;
    // Segment `e` starts at 128 << e (16-bit domain, biased) and has 16 steps of 8 << e.
    let step = 8 << exponent;
    let magnitude = (128 << exponent) + step * mantissa + step / 2 - 4 * ULAW_BIAS;
    // The sign bit set means positive (codes are stored inverted).
    if code & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// μ-law of a 14-bit sample (the value `sample >> 2` of a 16-bit one).
const fn ulaw_encode14(x: i32) -> u8 {
    let (negative, magnitude) = if x < 0 { (true, !x) } else { (false, x) };
    let mut biased = magnitude + ULAW_BIAS;
    if biased > ULAW_MAX {
        biased = ULAW_MAX;
    }
    // Segment 0 covers biased values 32..63, segment s covers 32 << s .. (64 << s) - 1.
    let mut segment = 0;
    while segment < 7 && biased >= (64 << segment) {
        segment += 1;
    }
    let mantissa = (biased >> (segment + 1)) & 0x0F;
    let sign = if negative { 0x80 } else { 0x00 };
    !((sign | (segment << 4) | mantissa) as u8)
}

const fn alaw_decode(code: u8) -> i16 {
    let raw = code ^ 0x55;
    let exponent = ((raw >> 4) & 0x07) as i32;
    let mut mantissa = (raw & 0x0F) as i32;
    if exponent > 0 {
        // Segments above the first carry an implicit leading one.
        mantissa += 16;
    }
    let mut magnitude = (mantissa << 4) + 8;
    if exponent > 1 {
        magnitude <<= exponent - 1;
    }
    if raw & 0x80 != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

/// A-law of a 13-bit sample (the value `sample >> 3` of a 16-bit one).
const fn alaw_encode13(x: i32) -> u8 {
    let (negative, magnitude) = if x < 0 { (true, !x) } else { (false, x) };
    // In the 12-bit magnitude domain: values below 32 are linear (segments 0 and 1 share a
    // step), above that each segment doubles the step.
    let mut value = magnitude >> 1;
    let mut code = value;
    if value > 15 {
        let mut exponent = 1;
        while value > 31 {
            value >>= 1;
            exponent += 1;
        }
        code = (value - 16) + (exponent << 4);
    }
    let sign = if negative { 0x00 } else { 0x80 };
    ((code | sign) as u8) ^ 0x55
}

const fn build_ulaw_decode() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = ulaw_decode(i as u8);
        i += 1;
    }
    table
}

const fn build_alaw_decode() -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = alaw_decode(i as u8);
        i += 1;
    }
    table
}

const fn build_ulaw_encode() -> [u8; 16384] {
    let mut table = [0u8; 16384];
    let mut i = 0;
    while i < 16384 {
        table[i] = ulaw_encode14(i as i32 - 8192);
        i += 1;
    }
    table
}

const fn build_alaw_encode() -> [u8; 8192] {
    let mut table = [0u8; 8192];
    let mut i = 0;
    while i < 8192 {
        table[i] = alaw_encode13(i as i32 - 4096);
        i += 1;
    }
    table
}

const fn build_ulaw_to_alaw() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = alaw_encode13((ulaw_decode(i as u8) as i32) >> 3);
        i += 1;
    }
    table
}

const fn build_alaw_to_ulaw() -> [u8; 256] {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = ulaw_encode14((alaw_decode(i as u8) as i32) >> 2);
        i += 1;
    }
    table
}

static ULAW_DECODE: [i16; 256] = build_ulaw_decode();
static ALAW_DECODE: [i16; 256] = build_alaw_decode();
static ULAW_ENCODE: [u8; 16384] = build_ulaw_encode();
static ALAW_ENCODE: [u8; 8192] = build_alaw_encode();
static ULAW_TO_ALAW: [u8; 256] = build_ulaw_to_alaw();
static ALAW_TO_ULAW: [u8; 256] = build_alaw_to_ulaw();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_reference_points() {
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x7F), 0); // "negative zero"
        assert_eq!(ulaw_to_linear(0x00), -32124);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0xFE), 8); // first step above zero: 4 × (2 × 1)
        assert_eq!(ulaw_to_linear(0xEF), 132); // the first level of segment 1
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_ulaw(-1), 0x7F);
        assert_eq!(linear_to_ulaw(i16::MAX), 0x80);
        assert_eq!(linear_to_ulaw(i16::MIN), 0x00);
        assert_eq!(linear_to_ulaw(32124), 0x80);
        assert_eq!(linear_to_ulaw(-32124), 0x00);
    }

    #[test]
    fn alaw_reference_points() {
        assert_eq!(linear_to_alaw(0), 0xD5);
        assert_eq!(linear_to_alaw(-1), 0x55);
        assert_eq!(alaw_to_linear(0xD5), 8);
        assert_eq!(alaw_to_linear(0x55), -8);
        assert_eq!(alaw_to_linear(0xAA), 32256);
        assert_eq!(alaw_to_linear(0x2A), -32256);
        assert_eq!(linear_to_alaw(i16::MAX), 0xAA);
        assert_eq!(linear_to_alaw(i16::MIN), 0x2A);
    }

    #[test]
    fn every_code_survives_decode_then_encode() {
        for code in 0..=255u8 {
            let linear = ulaw_to_linear(code);
            // 0x7F is "negative zero": it decodes to 0, which encodes as positive zero.
            let expected = if code == 0x7F { 0xFF } else { code };
            assert_eq!(linear_to_ulaw(linear), expected, "μ-law code {code:#04x}");
            assert_eq!(
                linear_to_alaw(alaw_to_linear(code)),
                code,
                "A-law {code:#04x}"
            );
        }
    }

    #[test]
    fn encoding_error_stays_within_half_a_step() {
        // A sample decodes back to within half its segment's step (the quantisation error):
        // about 3 % of its magnitude above the linear region, a few units inside it.
        for sample in (i16::MIN..=i16::MAX).step_by(7) {
            let s = i32::from(sample);
            let u = i32::from(ulaw_to_linear(linear_to_ulaw(sample)));
            let a = i32::from(alaw_to_linear(linear_to_alaw(sample)));
            // +3: negative inputs are grouped by their one's complement (G.191).
            let bound = |floor: i32| (s.abs() / 20).max(floor) + 3;
            assert!((u - s).abs() <= bound(8), "μ-law {sample} → {u}");
            assert!((a - s).abs() <= bound(16), "A-law {sample} → {a}");
        }
    }

    #[test]
    fn encoding_is_monotonic() {
        let mut previous = i16::MIN;
        for sample in i16::MIN..=i16::MAX {
            let level = ulaw_to_linear(linear_to_ulaw(sample));
            assert!(level >= previous, "μ-law not monotonic at {sample}");
            previous = level;
        }
        let mut previous = i16::MIN;
        for sample in i16::MIN..=i16::MAX {
            let level = alaw_to_linear(linear_to_alaw(sample));
            assert!(level >= previous, "A-law not monotonic at {sample}");
            previous = level;
        }
    }

    #[test]
    fn transcoding_keeps_the_level() {
        for code in 0..=255u8 {
            let level = i32::from(ulaw_to_linear(code));
            let via_a = i32::from(alaw_to_linear(ulaw_to_alaw(code)));
            assert!(
                (via_a - level).abs() <= (level.abs() / 16).max(16),
                "μ {code:#04x} ({level}) → A ({via_a})"
            );
            let level = i32::from(alaw_to_linear(code));
            let via_u = i32::from(ulaw_to_linear(alaw_to_ulaw(code)));
            assert!(
                (via_u - level).abs() <= (level.abs() / 16).max(16),
                "A {code:#04x} ({level}) → μ ({via_u})"
            );
        }
        let mut payload: Vec<u8> = (0..=255).collect();
        ulaw_to_alaw_in_place(&mut payload);
        assert!(payload
            .iter()
            .enumerate()
            .all(|(c, &a)| a == ulaw_to_alaw(c as u8)));
        let mut payload: Vec<u8> = (0..=255).collect();
        alaw_to_ulaw_in_place(&mut payload);
        assert!(payload
            .iter()
            .enumerate()
            .all(|(c, &u)| u == alaw_to_ulaw(c as u8)));
        assert_eq!(ulaw_to_alaw(0xFF), 0xD5);
        assert_eq!(alaw_to_ulaw(0xD5), 0xFE); // A-law's smallest level, 8, is μ-law's too
        assert_eq!(ulaw_to_alaw(0x80), 0xAA);
        assert_eq!(alaw_to_ulaw(0x2A), 0x00);
    }
}
