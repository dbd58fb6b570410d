//! The protobuf wire format: varints, length-delimited fields and skipping. Every read is bounds-checked.

use super::DecodeError;

/// Wire types (the low three bits of a field key).
pub(super) const VARINT: u8 = 0;
pub(super) const FIXED64: u8 = 1;
pub(super) const LEN: u8 = 2;
pub(super) const FIXED32: u8 = 5;

/// A cursor over one encoded message.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The next field's number and wire type.
    pub(super) fn key(&mut self) -> Result<(u32, u8), DecodeError> {
        let key = self.varint()?;
        let tag = u32::try_from(key >> 3).map_err(|_| malformed("field number out of range"))?;
        if tag == 0 {
            return Err(malformed("field number 0"));
        }
        #[allow(clippy::cast_possible_truncation)] // Masked to three bits.
        Ok((tag, (key & 7) as u8))
    }

    pub(super) fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for (i, byte) in self.buf.iter().take(10).enumerate() {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte & 0x80 == 0 {
                self.buf = &self.buf[i + 1..];
                return Ok(value);
            }
        }
        Err(malformed("truncated or overlong varint"))
    }

    /// A length-delimited payload.
    pub(super) fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = usize::try_from(self.varint()?).map_err(|_| malformed("length out of range"))?;
        if len > self.buf.len() {
            return Err(malformed("truncated length-delimited field"));
        }
        let (payload, rest) = self.buf.split_at(len);
        self.buf = rest;
        Ok(payload)
    }

    pub(super) fn fixed64(&mut self) -> Result<u64, DecodeError> {
        let (head, rest) = self
            .buf
            .split_first_chunk::<8>()
            .ok_or_else(|| malformed("truncated fixed64"))?;
        self.buf = rest;
        Ok(u64::from_le_bytes(*head))
    }

    fn fixed32(&mut self) -> Result<u32, DecodeError> {
        let (head, rest) = self
            .buf
            .split_first_chunk::<4>()
            .ok_or_else(|| malformed("truncated fixed32"))?;
        self.buf = rest;
        Ok(u32::from_le_bytes(*head))
    }

    /// Skips a field of an unknown number (Go's generated decoders skip those too).
    pub(super) fn skip(&mut self, wire: u8) -> Result<(), DecodeError> {
        match wire {
            VARINT => self.varint().map(drop),
            FIXED64 => self.fixed64().map(drop),
            LEN => self.bytes().map(drop),
            FIXED32 => self.fixed32().map(drop),
            _ => Err(malformed(&format!("unsupported wire type {wire}"))),
        }
    }
}

pub(super) fn malformed(why: &str) -> DecodeError {
    DecodeError::Malformed(why.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints() {
        assert_eq!(Reader::new(&[0x96, 0x01]).varint().ok(), Some(150));
        assert_eq!(Reader::new(&[0xff; 9]).varint().ok(), None);
        let mut all_ones = vec![0xff; 9];
        all_ones.push(0x01);
        assert_eq!(Reader::new(&all_ones).varint().ok(), Some(u64::MAX));
        assert!(Reader::new(&[0x80; 11]).varint().is_err());
        assert!(Reader::new(&[0x05, 1, 2]).bytes().is_err());
    }
}
