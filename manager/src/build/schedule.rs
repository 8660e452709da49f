//! The stages of a build in parallel: the Dockerfile loaded, the stages
//! `--target` needs planned, each on a thread of its own that waits for
//! the stages it needs (its base, those it copies or mounts from) and no
//! others, so independent stages build at the same time. The first stage
//! that fails stops the others; its error is the build's.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use hull_dockerfile::stages::Base;
use hull_dockerfile::{BuildContext, Dockerfile};

use super::context;
use super::image::{self, Committed};
use super::stage::{Builder, StageState};
use crate::error::{Error, Result};
use crate::images::Platform;

/// What the stages of one build share.
#[derive(Default)]
pub struct Shared {
    seq: AtomicU64,
    /// The last progress number given to a step.
    index: AtomicU32,
    total: AtomicU32,
    /// Finished stages by index: their state, or None when they failed.
    built: Mutex<HashMap<usize, Option<StageState>>>,
    finished: Condvar,
    /// Base images by name, as the first stage naming one found or pulled
    /// it (held while a stage finds or pulls, so each is pulled once).
    pub bases: Mutex<HashMap<String, super::stage::BaseImage>>,
    first_error: Mutex<Option<Error>>,
}

impl Shared {
    /// A number unique in the build (scratch paths, snapshot keys).
    pub fn next_seq(&self) -> u64 {
        self.seq.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// The progress number of a step starting now.
    pub fn next_index(&self) -> u32 {
        self.index.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub fn total(&self) -> u32 {
        self.total.load(Ordering::SeqCst)
    }

    /// ONBUILD triggers add steps to the build.
    pub fn add_steps(&self, n: u32) {
        self.total.fetch_add(n, Ordering::SeqCst);
    }

    fn map(&self) -> MutexGuard<'_, HashMap<usize, Option<StageState>>> {
        self.built.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The state stage `j` ended with (the stages a stage needs are
    /// built before it starts).
    pub fn built(&self, j: usize) -> Result<StageState> {
        match self.map().get(&j) {
            Some(Some(s)) => Ok(s.clone()),
            _ => Err(Error::Internal(format!("stage {j} not built"))),
        }
    }

    fn finish(&self, i: usize, state: Option<StageState>) {
        self.map().insert(i, state);
        self.finished.notify_all();
    }

    /// Wait until the stages `needs` are finished; an error when one of
    /// them failed.
    fn wait_for(&self, needs: &[usize]) -> Result<()> {
        let mut map = self.map();
        loop {
            if needs.iter().any(|j| matches!(map.get(j), Some(None))) {
                return Err(Error::FailedPrecondition(
                    "a stage this stage needs failed".into(),
                ));
            }
            if needs.iter().all(|j| map.contains_key(j)) {
                return Ok(());
            }
            map = self.finished.wait(map).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Keep the first error of the build.
    fn failed(&self, e: Error) {
        let mut first = self.first_error.lock().unwrap_or_else(|e| e.into_inner());
        if first.is_none() {
            *first = Some(e);
        }
    }
}

/// Marks its stage finished when dropped, failed unless a state was
/// given: the stages waiting for it are woken whatever way it ends.
struct Finish<'a> {
    shared: &'a Shared,
    stage: usize,
    state: Option<StageState>,
}

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        self.shared.finish(self.stage, self.state.take());
    }
}

impl Builder {
    /// Build what the options ask for and commit the target stage.
    pub fn run(self) -> Result<Committed> {
        let text = context::dockerfile(
            &self.ctx,
            self.opts.dockerfile.as_deref(),
            &self.opts.dockerfile_path,
        )?;
        let p = Platform::host();
        let platform = p.to_string();
        let automatic_args = BTreeMap::from([
            ("TARGETPLATFORM".to_string(), platform.clone()),
            ("TARGETOS".to_string(), p.os.clone()),
            ("TARGETARCH".to_string(), p.architecture.clone()),
            ("TARGETVARIANT".to_string(), p.variant.clone()),
            ("BUILDPLATFORM".to_string(), platform),
            ("BUILDOS".to_string(), p.os.clone()),
            ("BUILDARCH".to_string(), p.architecture.clone()),
        ]);
        let mut bctx = BuildContext {
            build_args: self.opts.build_args.clone(),
            automatic_args,
            base_env: BTreeMap::new(),
        };
        let load = |bctx: &BuildContext| {
            Dockerfile::load(&text, bctx).map_err(|e| Error::InvalidArgument(e.to_string()))
        };
        let mut df = load(&bctx)?;
        let plan = df
            .stages
            .plan(self.opts.target.as_deref())
            .map_err(|e| Error::InvalidArgument(e.to_string()))?;
        // A stage's variables start from its base image's ENV: the bases
        // are found (or pulled) first, then the Dockerfile is substituted
        // again knowing them. A base that fails here fails in its stage,
        // with the FROM's line.
        for i in &plan {
            if let Base::Image(name) = &df.stages.stages[*i].base {
                if let Ok((img, _, _)) = self.base_image(name) {
                    bctx.base_env.insert(name.clone(), img.env());
                }
            }
        }
        if !bctx.base_env.is_empty() {
            df = load(&bctx)?;
        }
        let stages = &df.stages;
        let needs = plan
            .iter()
            .map(|&i| {
                let deps = stages
                    .dependencies(i)
                    .map_err(|e| Error::InvalidArgument(e.to_string()))?;
                Ok((i, deps.into_iter().map(|(d, _)| d).collect::<Vec<_>>()))
            })
            .collect::<Result<Vec<_>>>()?;
        let steps: u32 = plan
            .iter()
            .map(|i| stages.stages[*i].instructions.len() as u32 + 1)
            .sum();
        self.shared.add_steps(steps);
        let rt = tokio::runtime::Handle::current();
        std::thread::scope(|s| {
            for (i, deps) in &needs {
                let mut b = self.clone();
                let rt = rt.clone();
                s.spawn(move || {
                    let _rt = rt.enter();
                    let shared = b.shared.clone();
                    let mut finish = Finish {
                        shared: &shared,
                        stage: *i,
                        state: None,
                    };
                    match shared.wait_for(deps).and_then(|()| b.stage(stages, *i)) {
                        Ok(state) => finish.state = Some(state),
                        Err(e) => {
                            shared.failed(e);
                            b.cancel.set();
                        }
                    }
                });
            }
        });
        if let Some(e) = self
            .shared
            .first_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
        {
            return Err(e);
        }
        let last = plan
            .last()
            .map(|i| self.shared.built(*i))
            .ok_or_else(|| Error::Internal("no stage was built".into()))??;
        image::commit(
            &self.m,
            &self.ns,
            &last.img,
            &self.opts.labels,
            &self.opts.tags,
        )
    }
}
