//! Source files in another encoding than UTF-8 (`csv.encoding`): decoded into a UTF-8 copy in the run's
//! scratch folder, a chunk at a time, before the CSV checks and Polars read them.

use std::io::Write;
use std::path::Path;

use encoding_rs::{CoderResult, Decoder, UTF_16BE, UTF_16LE, UTF_8, WINDOWS_1252};

use crate::plan::Encoding;

/// The encoding a file is decoded from, named for the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoded {
    Windows1252,
    Latin1,
    Utf16Le,
    Utf16Be,
    /// UTF-8 with a byte-order mark (under `auto`): no copy needed, the CSV check removes the mark.
    Utf8Bom,
    /// UTF-8 without a mark (under `auto`): read as it is.
    Utf8,
}

impl Decoded {
    pub fn name(self) -> &'static str {
        match self {
            Decoded::Windows1252 => "windows-1252",
            Decoded::Latin1 => "iso-8859-1",
            Decoded::Utf16Le => "UTF-16LE",
            Decoded::Utf16Be => "UTF-16BE",
            Decoded::Utf8Bom => "UTF-8 (byte-order mark)",
            Decoded::Utf8 => "UTF-8 (no byte-order mark)",
        }
    }
}

/// What `encoding` means for a file starting with `head`: `None` when its bytes are read as UTF-8 as
/// declared.
pub fn decoding(encoding: Encoding, head: &[u8]) -> Option<Decoded> {
    let bom = || match encoding_rs::Encoding::for_bom(head) {
        Some((e, _)) if e == UTF_16LE => Some(Decoded::Utf16Le),
        Some((e, _)) if e == UTF_16BE => Some(Decoded::Utf16Be),
        Some((e, _)) if e == UTF_8 => Some(Decoded::Utf8Bom),
        _ => None,
    };
    match encoding {
        Encoding::Utf8 | Encoding::Utf8Lossy => None,
        Encoding::Windows1252 => Some(Decoded::Windows1252),
        Encoding::Latin1 => Some(Decoded::Latin1),
        Encoding::Utf16 => match bom() {
            Some(Decoded::Utf16Be) => Some(Decoded::Utf16Be),
            _ => Some(Decoded::Utf16Le),
        },
        Encoding::Auto => bom().or(Some(Decoded::Utf8)),
    }
}

/// Writes `bytes`, decoded from `from`, as UTF-8 into `out`; returns how many sequences could not be decoded
/// (replaced by U+FFFD: only possible in UTF-16, an unpaired surrogate or an odd last byte).
pub fn to_utf8(bytes: &[u8], from: Decoded, out: &Path) -> std::io::Result<u64> {
    let file = std::fs::File::create(out)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let replaced = match from {
        Decoded::Latin1 => {
            latin1(bytes, &mut out)?;
            0
        },
        Decoded::Windows1252 => decode(WINDOWS_1252.new_decoder_without_bom_handling(), bytes, &mut out)?,
        Decoded::Utf16Le => decode(UTF_16LE.new_decoder_with_bom_removal(), bytes, &mut out)?,
        Decoded::Utf16Be => decode(UTF_16BE.new_decoder_with_bom_removal(), bytes, &mut out)?,
        Decoded::Utf8Bom | Decoded::Utf8 => decode(UTF_8.new_decoder_with_bom_removal(), bytes, &mut out)?,
    };
    out.flush()?;
    Ok(replaced)
}

fn decode(mut decoder: Decoder, mut bytes: &[u8], out: &mut impl Write) -> std::io::Result<u64> {
    const CHUNK: usize = 1 << 20;
    let mut buffer = vec![0u8; CHUNK * 3 + 16];
    let mut replaced = 0;
    loop {
        let (input, last) = if bytes.len() > CHUNK { (&bytes[..CHUNK], false) } else { (bytes, true) };
        let (result, read, written, errors) = decoder.decode_to_utf8(input, &mut buffer, last);
        replaced += u64::from(errors);
        out.write_all(&buffer[..written])?;
        bytes = &bytes[read..];
        if last && result == CoderResult::InputEmpty {
            return Ok(replaced);
        }
    }
}

/// ISO 8859-1 is the first 256 code points: one or two UTF-8 bytes per byte.
fn latin1(bytes: &[u8], out: &mut impl Write) -> std::io::Result<()> {
    let mut buffer = Vec::with_capacity(1 << 20);
    for chunk in bytes.chunks(1 << 19) {
        buffer.clear();
        for &b in chunk {
            if b < 0x80 {
                buffer.push(b);
            } else {
                buffer.extend_from_slice(&[0xC0 | (b >> 6), 0x80 | (b & 0x3F)]);
            }
        }
        out.write_all(&buffer)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(bytes: &[u8], from: Decoded) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.csv");
        to_utf8(bytes, from, &path).unwrap();
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn single_byte_encodings_differ_where_they_should() {
        // 0xE9 is é in both; 0x80 is € in windows-1252 and a C1 control in ISO 8859-1.
        assert_eq!(decoded(b"R\xe9clamation \x80", Decoded::Windows1252), "Réclamation €");
        assert_eq!(decoded(b"R\xe9clamation \x80", Decoded::Latin1), "Réclamation \u{80}");
    }

    #[test]
    fn utf16_loses_its_byte_order_mark() {
        let le: Vec<u8> = [0xFF, 0xFE].into_iter().chain("id,é\n".encode_utf16().flat_map(u16::to_le_bytes)).collect();
        assert_eq!(decoding(Encoding::Auto, &le), Some(Decoded::Utf16Le));
        assert_eq!(decoded(&le, Decoded::Utf16Le), "id,é\n");
        let be: Vec<u8> = [0xFE, 0xFF].into_iter().chain("id\n".encode_utf16().flat_map(u16::to_be_bytes)).collect();
        assert_eq!(decoding(Encoding::Utf16, &be), Some(Decoded::Utf16Be));
        assert_eq!(decoded(&be, Decoded::Utf16Be), "id\n");
    }

    #[test]
    fn auto_without_a_mark_is_utf8() {
        assert_eq!(decoding(Encoding::Auto, b"id,name\n"), Some(Decoded::Utf8));
        assert_eq!(decoding(Encoding::Utf8, b"id,name\n"), None);
        assert_eq!(decoding(Encoding::Auto, b"\xef\xbb\xbfid\n"), Some(Decoded::Utf8Bom));
    }

    #[test]
    fn a_chunk_boundary_inside_a_character_is_decoded_whole() {
        // A surrogate pair (two UTF-16 units) straddling the first 1 MiB chunk's end.
        let mut text = "a".repeat((1 << 19) - 1);
        text.push('😀');
        text.push_str("bc");
        let le: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
        assert_eq!(decoded(&le, Decoded::Utf16Le), text);
    }
}
