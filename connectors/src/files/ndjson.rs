//! Event files, one JSON event a line. Decoding is spread over the cores in contiguous chunks;
//! folding then runs in file order, so line numbers and dead letters come out as in the file
//! and the state is the same whatever the number of cores.

use memchr::memchr_iter;
use payroll_engine::parallel::{cores, map_in_order};
use payroll_engine::{Event, Feed, Invalid, Ledger};

use crate::dead_letter::{DeadLetters, Position};
use crate::progress::Progress;

/// A chunk's outcome: decoded events and refusals, with lines counted within the chunk.
#[derive(Default)]
struct Chunk {
    lines: u64,
    events: Vec<Event>,
    /// Line within the chunk, why, the line, and the org of the worker it names.
    refused: Vec<(u64, Invalid, String, Option<String>)>,
}

/// At most this much of a file is decoded at once: its events are folded and its pages given
/// back (`release`) before the next wave, so memory holds a wave's events, never a file's.
const WAVE: usize = 64 << 20;

/// Decodes and folds every event of `bytes`; returns how many were folded.
pub fn fold(
    feed: Feed,
    source: &str,
    bytes: &[u8],
    ledger: &mut Ledger,
    dead_letters: &mut DeadLetters,
    progress: &dyn Progress,
    release: &dyn Fn(std::ops::Range<usize>),
) -> u64 {
    let mut first_line = 1;
    let mut folded = 0;
    let mut offset = 0;
    for wave in split_at_lines(bytes, bytes.len().div_ceil(WAVE)) {
        let shared = &*ledger;
        let chunks = map_in_order(split_at_lines(wave, cores() * 4), |chunk| {
            let decoded = decode(feed, chunk, shared);
            progress.advance(chunk.len() as u64);
            decoded
        });
        for chunk in chunks {
            for (line, invalid, original, org_id) in chunk.refused {
                dead_letters.push(
                    source,
                    Position::Line(first_line + line),
                    invalid,
                    &original,
                    org_id.as_deref(),
                );
            }
            for event in chunk.events {
                ledger.apply(event);
                folded += 1;
            }
            first_line += chunk.lines;
        }
        release(offset..offset + wave.len());
        offset += wave.len();
    }
    folded
}

fn decode(feed: Feed, chunk: &[u8], ledger: &Ledger) -> Chunk {
    let mut out = Chunk::default();
    for (index, line) in lines(chunk).enumerate() {
        out.lines += 1;
        let Some(line) = event_text(line) else {
            continue;
        };
        let decoded = feed
            .decode(line)
            .and_then(|event| ledger.check_worker(event.worker_id()).map(|()| event))
            .and_then(|event| ledger.check_org(&event).map(|()| event));
        match decoded {
            Ok(event) => out.events.push(event),
            Err(invalid) => out.refused.push((
                index as u64,
                invalid,
                String::from_utf8_lossy(line).into_owned(),
                org_of(line, ledger),
            )),
        }
    }
    out
}

/// The org of the worker a refused line names, when it is JSON naming a worker of the master.
fn org_of(line: &[u8], ledger: &Ledger) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Named<'a> {
        #[serde(borrow)]
        worker_id: std::borrow::Cow<'a, str>,
    }
    let named: Named = serde_json::from_slice(line).ok()?;
    ledger.worker(&named.worker_id).map(|worker| worker.org_id.clone())
}

/// The lines of an event file, without their `\n`.
pub(crate) fn lines(bytes: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    let ends = memchr_iter(b'\n', bytes).chain((!bytes.ends_with(b"\n") && !bytes.is_empty()).then_some(bytes.len()));
    ends.map(move |end| {
        let line = &bytes[start..end];
        start = end + 1;
        line
    })
}

/// A line's event: without a Windows `\r` end; `None` for a blank line.
pub(crate) fn event_text(line: &[u8]) -> Option<&[u8]> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    (!line.iter().all(u8::is_ascii_whitespace)).then_some(line)
}

/// About `parts` chunks of whole lines.
fn split_at_lines(bytes: &[u8], parts: usize) -> impl Iterator<Item = &[u8]> {
    let target = bytes.len().div_ceil(parts.max(1)).max(1);
    let mut rest = bytes;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let cut = match rest.get(target..).and_then(|tail| memchr::memchr(b'\n', tail)) {
            Some(i) => target + i + 1,
            None => rest.len(),
        };
        let (chunk, tail) = rest.split_at(cut);
        rest = tail;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_keep_whole_lines_and_every_byte() {
        let text = b"a\nbb\nccc\ndddd\neeeee";
        for parts in 1..8 {
            let chunks: Vec<&[u8]> = split_at_lines(text, parts).collect();
            assert_eq!(chunks.concat(), text.to_vec());
            assert!(chunks[..chunks.len() - 1].iter().all(|c| c.ends_with(b"\n")));
        }
        assert_eq!(lines(b"a\n\nb").collect::<Vec<_>>(), vec![&b"a"[..], b"", b"b"]);
    }
}
