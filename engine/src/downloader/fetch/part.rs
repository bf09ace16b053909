//! The `.part` file of a download in progress, and the hash of what it holds.

use std::fmt::Write as _;
use std::io::{self, Read};
use std::path::Path;

use sha2::{Digest, Sha256};
use tokio::fs::{File, OpenOptions};
use tokio::io::{AsyncWriteExt, BufWriter};

use super::Fetched;

/// Bytes gathered before each write to disk: few system calls, bounded memory.
const WRITE_BUFFER: usize = 1 << 20;

pub(super) struct Part {
    file: BufWriter<File>,
    hasher: Sha256,
    size: u64,
}

impl Part {
    /// Creates `path`, or empties it.
    pub(super) async fn create(path: &Path) -> io::Result<Part> {
        let file = File::create(path).await?;
        Ok(Part {
            file: BufWriter::with_capacity(WRITE_BUFFER, file),
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Opens `path` to append after its first `existing` bytes, which are
    /// hashed first (on the blocking pool: this reads the whole prefix).
    pub(super) async fn resume(path: &Path, existing: u64) -> io::Result<Part> {
        let owned = path.to_owned();
        let hasher = tokio::task::spawn_blocking(move || hash_prefix(&owned, existing))
            .await
            .map_err(io::Error::other)??;
        let file = OpenOptions::new().append(true).open(path).await?;
        // Appends must follow exactly what was hashed.
        file.set_len(existing).await?;
        Ok(Part {
            file: BufWriter::with_capacity(WRITE_BUFFER, file),
            hasher,
            size: existing,
        })
    }

    /// Bytes received so far, buffered ones included.
    pub(super) fn size(&self) -> u64 {
        self.size
    }

    pub(super) async fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        self.file.write_all(chunk).await
    }

    /// Writes out the buffer, so that a retry resumes after every byte received.
    pub(super) async fn flush(&mut self) -> io::Result<()> {
        self.file.flush().await
    }

    /// Flushes and fsyncs (tokio runs the fsync on its blocking pool).
    pub(super) async fn finish(mut self) -> io::Result<Fetched> {
        self.file.flush().await?;
        self.file.get_ref().sync_all().await?;
        let mut sha256_hex = String::with_capacity(64);
        for byte in self.hasher.finalize() {
            write!(sha256_hex, "{byte:02x}").expect("writing to a String cannot fail");
        }
        Ok(Fetched {
            size: self.size,
            sha256_hex,
        })
    }
}

fn hash_prefix(path: &Path, length: u64) -> io::Result<Sha256> {
    let mut hasher = Sha256::new();
    let mut reader = std::fs::File::open(path)?.take(length);
    let mut buffer = vec![0; WRITE_BUFFER];
    loop {
        match reader.read(&mut buffer)? {
            0 => return Ok(hasher),
            read => hasher.update(&buffer[..read]),
        }
    }
}
