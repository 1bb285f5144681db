//! Writes structured seeds in the byte format `arbitrary` 1.x decodes, so
//! hand-made operation sequences can be committed as seed files.
//!
//! Only what the seeds use is supported: little-endian integers, `bool`,
//! derived enums (a `u32` scaled to the variant count), `Option`,
//! `Vec` (a continue-flag byte before each element) and `String`
//! (its length byte is taken from the *end* of the input). Keep seeds under
//! 256 bytes so every length is one byte. [`Encoder::finish_checked`]
//! decodes the result again and compares `Debug` output, so a mismatch
//! with the real format fails loudly instead of producing a useless seed.

use std::fmt::Debug;

use arbitrary::{Arbitrary, Unstructured};

/// Accumulates an encoding: bytes read from the front, and length bytes
/// read from the back (in the order they are read).
#[derive(Debug, Default)]
pub struct Encoder {
    front: Vec<u8>,
    back: Vec<u8>,
}

/// A value that can be written in `arbitrary`'s format.
pub trait Encode {
    /// Writes `self` as `Arbitrary::arbitrary` would read it.
    fn encode(&self, e: &mut Encoder);
}

impl Encoder {
    /// Writes raw bytes read from the front.
    pub fn raw(&mut self, bytes: &[u8]) {
        self.front.extend_from_slice(bytes);
    }

    /// Selects variant `index` of an enum with `count` variants.
    pub fn variant(&mut self, index: u32, count: u32) {
        assert!(index < count);
        let scaled = (u64::from(index) << 32).div_ceil(u64::from(count));
        let scaled = u32::try_from(scaled).expect("index < count keeps this below 2^32");
        self.raw(&scaled.to_le_bytes());
    }

    /// Writes the elements of a top-level (`take_rest`) collection.
    pub fn rest<T: Encode>(&mut self, items: &[T]) {
        for item in items {
            true.encode(self);
            item.encode(self);
        }
    }

    /// The bytes, after checking that they decode to `expected` when read
    /// as the top-level input of a fuzz target.
    pub fn finish_checked<T>(self, expected: &T) -> Vec<u8>
    where
        T: for<'a> Arbitrary<'a> + Debug,
    {
        let mut bytes = self.front;
        bytes.extend(self.back.iter().rev());
        assert!(bytes.len() <= 256, "seed too long for one-byte lengths");
        let decoded = T::arbitrary_take_rest(Unstructured::new(&bytes)).expect("seed decodes");
        assert_eq!(
            format!("{decoded:?}"),
            format!("{expected:?}"),
            "seed encoder disagrees with arbitrary"
        );
        bytes
    }
}

macro_rules! encode_int {
    ($($ty:ty),*) => {$(
        impl Encode for $ty {
            fn encode(&self, e: &mut Encoder) {
                e.raw(&self.to_le_bytes());
            }
        }
    )*};
}
encode_int!(u8, i8, u16, u32, i64);

impl Encode for bool {
    fn encode(&self, e: &mut Encoder) {
        e.raw(&[u8::from(*self)]);
    }
}

impl<T: Encode> Encode for Option<T> {
    fn encode(&self, e: &mut Encoder) {
        self.is_some().encode(e);
        if let Some(value) = self {
            value.encode(e);
        }
    }
}

impl<T: Encode> Encode for Vec<T> {
    fn encode(&self, e: &mut Encoder) {
        e.rest(self);
        false.encode(e);
    }
}

impl Encode for String {
    fn encode(&self, e: &mut Encoder) {
        // The length comes from the back as `byte % (remaining + 1)`; with
        // the string's own bytes still ahead, `len` itself is in range.
        let len = u8::try_from(self.len()).expect("seed strings are short");
        e.back.push(len);
        e.raw(self.as_bytes());
    }
}
