//! Following an ingest while it is written: the unpacker reads a layer's
//! data file as the download appends to it, so unpacking overlaps the
//! download.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};

#[derive(Default)]
struct State {
    written: u64,
    generation: u64,
    source: Option<std::path::PathBuf>,
    done: Option<Result<(), String>>,
}

/// Shared progress of one ingest.
#[derive(Default)]
pub struct Follow {
    state: Mutex<State>,
    cv: Condvar,
}

impl Follow {
    pub fn new() -> Arc<Self> {
        Arc::new(Follow::default())
    }

    pub fn advance(&self, written: u64) {
        if let Ok(mut s) = self.state.lock() {
            s.written = written;
        }
        self.cv.notify_all();
    }

    /// The writer started over: readers must fail (the unpack is retried
    /// from the committed blob).
    pub fn restart(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.written = 0;
            s.generation += 1;
        }
        self.cv.notify_all();
    }

    pub fn finish(&self, r: Result<(), String>) {
        if let Ok(mut s) = self.state.lock() {
            if s.done.is_none() {
                s.done = Some(r);
            }
        }
        self.cv.notify_all();
    }

    /// The writer's data file is ready to be followed.
    pub fn set_source(&self, path: &Path) {
        if let Ok(mut s) = self.state.lock() {
            s.source = Some(path.to_path_buf());
        }
        self.cv.notify_all();
    }

    /// Block until there is a data file to follow (`Some`), or the download
    /// ended without one (`None`: the blob was already there).
    pub fn wait_source(&self) -> Result<Option<std::path::PathBuf>, String> {
        let mut s = self.state.lock().map_err(|_| "poisoned".to_string())?;
        loop {
            if let Some(p) = &s.source {
                return Ok(Some(p.clone()));
            }
            match &s.done {
                Some(Ok(())) => return Ok(None),
                Some(Err(e)) => return Err(e.clone()),
                None => {}
            }
            s = self.cv.wait(s).map_err(|_| "poisoned".to_string())?;
        }
    }

    /// Block until the download finished; its result.
    pub fn wait_done(&self) -> Result<(), String> {
        let mut s = self.state.lock().map_err(|_| "poisoned".to_string())?;
        loop {
            if let Some(r) = &s.done {
                return r.clone();
            }
            s = self.cv.wait(s).map_err(|_| "poisoned".to_string())?;
        }
    }

    /// A reader of `path` (the ingest data file) that blocks at its end
    /// until more is written or the download ends.
    pub fn reader(self: &Arc<Self>, path: &Path) -> io::Result<FollowReader> {
        let generation = self.state.lock().map(|s| s.generation).unwrap_or(0);
        Ok(FollowReader {
            file: File::open(path)?,
            pos: 0,
            follow: self.clone(),
            generation,
        })
    }
}

pub struct FollowReader {
    file: File,
    pos: u64,
    follow: Arc<Follow>,
    generation: u64,
}

impl Read for FollowReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.file.read(buf)?;
            if n > 0 {
                self.pos += n as u64;
                return Ok(n);
            }
            let mut s = self
                .follow
                .state
                .lock()
                .map_err(|_| io::Error::other("poisoned"))?;
            loop {
                if s.generation != self.generation {
                    return Err(io::Error::other("download restarted"));
                }
                if s.written > self.pos {
                    break;
                }
                match &s.done {
                    Some(Ok(())) => return Ok(0),
                    Some(Err(e)) => return Err(io::Error::other(e.clone())),
                    None => {}
                }
                s = self
                    .follow
                    .cv
                    .wait(s)
                    .map_err(|_| io::Error::other("poisoned"))?;
            }
        }
    }
}
