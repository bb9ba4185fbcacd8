//! Deflate with a compressor kept per thread: a new compressor allocates and clears its window
//! and hash tables (over 200 KB), which cost more than deflating a payslip's content stream or
//! its worksheet; resetting one clears only the hash table's head.

use std::cell::RefCell;

use flate2::{Compress, Compression, FlushCompress, Status};

use crate::Error;

/// How the deflated bytes are wrapped.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wrapping {
    /// A zlib header and checksum: a PDF stream's `FlateDecode`.
    Zlib,
    /// Raw deflate: a zip entry's.
    Raw,
}

thread_local! {
    /// This thread's compressors, by level and wrapping (a payslip uses two or three kinds).
    static COMPRESSORS: RefCell<Vec<(u32, Wrapping, Compress)>> = const { RefCell::new(Vec::new()) };
}

/// `data` deflated at `level`; the same bytes a new compressor would give.
pub(crate) fn deflate(data: &[u8], level: Compression, wrapping: Wrapping) -> Result<Vec<u8>, Error> {
    COMPRESSORS.with_borrow_mut(|compressors| {
        let at = match compressors
            .iter()
            .position(|(l, w, _)| *l == level.level() && *w == wrapping)
        {
            Some(at) => {
                compressors[at].2.reset();
                at
            }
            None => {
                let compress = Compress::new(level, wrapping == Wrapping::Zlib);
                compressors.push((level.level(), wrapping, compress));
                compressors.len() - 1
            }
        };
        let compress = &mut compressors[at].2;
        let mut out = Vec::with_capacity(data.len() / 2 + 64);
        loop {
            let consumed = usize::try_from(compress.total_in())
                .unwrap_or(data.len())
                .min(data.len());
            // Short of room the compressor stops; the loop makes more and goes on.
            match compress.compress_vec(&data[consumed..], &mut out, FlushCompress::Finish) {
                Ok(Status::StreamEnd) => return Ok(out),
                Ok(Status::Ok | Status::BufError) => out.reserve(out.capacity().max(1024)),
                Err(e) => return Err(Error::Deflate(e.to_string())),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // A test fails by panicking, with the message.

    use std::io::Read;

    use flate2::read::{DeflateDecoder, ZlibDecoder};

    use super::*;

    /// Text that compresses, and bytes that do not (the output outgrows its first guess).
    fn samples() -> Vec<Vec<u8>> {
        let text = b"BT /R 9 Tf 1 0 0 1 36 700 Tm <0041004200430044> Tj ET\n".repeat(300);
        let mut noise = Vec::new();
        let mut x: u32 = 2_463_534_242;
        for _ in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            noise.push(x as u8);
        }
        vec![Vec::new(), b"a".to_vec(), text, noise]
    }

    /// A compressor reused is reset: after other data, each output is what a new thread's
    /// new compressor gives, and it reads back.
    #[test]
    fn a_reused_compressor_gives_a_new_ones_bytes() {
        for level in [Compression::fast(), Compression::new(6)] {
            for wrapping in [Wrapping::Zlib, Wrapping::Raw] {
                let fresh: Vec<Vec<u8>> = samples()
                    .into_iter()
                    .map(|data| {
                        std::thread::spawn(move || deflate(&data, level, wrapping))
                            .join()
                            .unwrap()
                            .unwrap()
                    })
                    .collect();
                for _round in 0..3 {
                    for (data, fresh) in samples().iter().zip(&fresh) {
                        let deflated = deflate(data, level, wrapping).unwrap();
                        assert_eq!(&deflated, fresh);
                        let mut back = Vec::new();
                        match wrapping {
                            Wrapping::Zlib => ZlibDecoder::new(deflated.as_slice()).read_to_end(&mut back),
                            Wrapping::Raw => DeflateDecoder::new(deflated.as_slice()).read_to_end(&mut back),
                        }
                        .unwrap();
                        assert_eq!(&back, data);
                    }
                }
            }
        }
    }
}
