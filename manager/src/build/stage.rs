//! The build's driver: the Dockerfile loaded for this build, the stages
//! `--target` needs in order, each instruction as a step with its cache
//! key and progress events. Metadata instructions change the config;
//! what changes files is done in `steps`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use hull_dockerfile::instructions::Instruction;
use hull_dockerfile::stages::{Base, Stages};
use hull_dockerfile::Located;
use tokio::sync::mpsc;

use super::describe::describe;
use super::image::Image;
use super::layer::LayerOptions;
pub(super) use super::schedule::Shared;
use super::{cache, BuildOptions, Cancel, Event, StepState, Workspace};
use crate::error::{Error, Result};
use crate::images::{ops, Compression, Platform};
use crate::manager::Manager;

/// A stage being built: its image, the cache key of its last step, its
/// ARG values.
/// A base image as a build uses it: the image, its cache key, and whether
/// this build pulled it.
pub(super) type BaseImage = (Image, String, bool);

#[derive(Clone)]
pub(super) struct StageState {
    pub img: Image,
    pub key: String,
    pub args: BTreeMap<String, String>,
}

#[derive(Clone)]
pub struct Builder {
    pub(super) m: Arc<Manager>,
    pub(super) ns: String,
    pub(super) opts: BuildOptions,
    pub(super) ctx: PathBuf,
    pub(super) ws: Arc<Workspace>,
    events: mpsc::Sender<Event>,
    pub(super) cancel: Cancel,
    pub(super) layer_opts: LayerOptions,
    /// The progress number of this stage's current step.
    pub(super) index: u32,
    pub(super) stage_label: String,
    /// What the stages building at once share.
    pub(super) shared: Arc<Shared>,
}

/// `e` with the Dockerfile line in front of its message, its kind kept.
pub(super) fn at_line(line: usize, e: Error) -> Error {
    let p = |s: String| format!("Dockerfile:{line}: {s}");
    match e {
        Error::NotFound(s) => Error::NotFound(p(s)),
        Error::InvalidArgument(s) => Error::InvalidArgument(p(s)),
        Error::FailedPrecondition(s) => Error::FailedPrecondition(p(s)),
        Error::AlreadyExists(s) => Error::AlreadyExists(p(s)),
        Error::Unsupported(s) => Error::Unsupported(p(s)),
        Error::Unauthorized(s) => Error::Unauthorized(p(s)),
        other => Error::FailedPrecondition(p(other.to_string())),
    }
}

impl Builder {
    pub fn new(
        m: Arc<Manager>,
        ns: String,
        opts: BuildOptions,
        ctx: PathBuf,
        ws: Arc<Workspace>,
        events: mpsc::Sender<Event>,
        cancel: Cancel,
    ) -> Result<Builder> {
        let layer_opts = LayerOptions {
            compression: opts.compression,
            epoch: opts.source_date_epoch,
        };
        Ok(Builder {
            m,
            ns,
            opts,
            ctx,
            ws,
            events,
            cancel: cancel.child(),
            layer_opts,
            index: 0,
            stage_label: String::new(),
            shared: Arc::new(Shared::default()),
        })
    }

    pub(super) fn next_seq(&mut self) -> u64 {
        self.shared.next_seq()
    }

    /// A new path in the workspace: `prefix-N`.
    pub(super) fn scratch_path(&mut self, prefix: &str) -> PathBuf {
        let n = self.next_seq();
        self.ws.path(&format!("{prefix}-{n}"))
    }

    /// `name` made unique within this build (snapshot keys, mount points).
    pub(super) fn unique(&mut self, name: &str) -> String {
        let n = self.next_seq();
        let ws = self
            .ws
            .dir
            .file_name()
            .map(|f| f.to_string_lossy().into_owned())
            .unwrap_or_default();
        format!("build-{ws}-{name}-{n}")
    }

    pub(super) fn events(&self) -> mpsc::Sender<Event> {
        self.events.clone()
    }

    pub(super) fn emit(&self, e: Event) {
        let _ = self.events.blocking_send(e);
    }

    fn step_event(&self, instruction: &str, state: StepState, seconds: f64) {
        self.emit(Event::Step {
            index: self.index,
            total: self.shared.total(),
            stage: self.stage_label.clone(),
            instruction: instruction.to_string(),
            state,
            seconds,
        });
    }

    /// The history time of a step made now.
    pub(super) fn created_now(&self) -> String {
        let now = crate::content::now_secs();
        let t = match self.opts.source_date_epoch {
            Some(e) if e < now => e,
            _ => now,
        };
        hull_types::time::rfc3339(t)
    }

    /// Build stage `i` (the stages it needs are built).
    pub(super) fn stage(&mut self, stages: &Stages, i: usize) -> Result<StageState> {
        let st = &stages.stages[i];
        self.stage_label = st.label();
        self.index = self.shared.next_index();
        let from = describe(&Instruction::From(st.from.clone()));
        let (mut state, fresh) = match &st.base {
            Base::Scratch => {
                let key = cache::key("", &["FROM scratch", &self.variant_key()]);
                (self.state(Image::scratch(), key), false)
            }
            Base::Stage(j) => {
                let parent = self.shared.built(*j).map_err(|e| at_line(st.line, e))?;
                let key = cache::key(&parent.key, &["FROM stage"]);
                (self.state(parent.img.for_new_stage(), key), false)
            }
            Base::Image(name) => {
                let (img, key, pulled) = self.base_image(name).map_err(|e| at_line(st.line, e))?;
                (self.state(img, key), pulled)
            }
        };
        let state_of_from = if fresh {
            StepState::Done
        } else {
            StepState::Cached
        };
        self.step_event(&from, state_of_from, 0.0);
        let mut instructions: Vec<Located> = Vec::new();
        let trigger_error = |e: hull_dockerfile::Error| {
            at_line(
                st.line,
                Error::InvalidArgument(format!("ONBUILD trigger: {e}")),
            )
        };
        for trigger in state.img.onbuild() {
            let parsed = hull_dockerfile::parse(&trigger).map_err(trigger_error)?;
            instructions.extend(parsed.instructions.into_iter().map(|l| Located {
                line: st.line,
                instruction: l.instruction,
            }));
        }
        if !instructions.is_empty() {
            let ctx = hull_dockerfile::BuildContext {
                build_args: self.opts.build_args.clone(),
                automatic_args: BTreeMap::new(),
                base_env: BTreeMap::new(),
            };
            let env = state.img.env();
            instructions = hull_dockerfile::resolve_triggers(&instructions, &env, &ctx, '\\')
                .map_err(trigger_error)?;
        }
        if !instructions.is_empty() {
            self.shared.add_steps(instructions.len() as u32);
            state.img.clear_onbuild();
        }
        instructions.extend(st.instructions.iter().cloned());
        for loc in &instructions {
            self.cancel.check()?;
            self.index = self.shared.next_index();
            self.step(stages, &mut state, loc)
                .map_err(|e| at_line(loc.line, e))?;
        }
        Ok(state)
    }

    fn state(&self, img: Image, key: String) -> StageState {
        StageState {
            img,
            key,
            args: BTreeMap::new(),
        }
    }

    /// What makes layers of equal input differ: compression, epoch, platform.
    fn variant_key(&self) -> String {
        format!(
            "{:?}/{:?}/{}",
            self.opts.compression,
            self.opts.source_date_epoch,
            Platform::host()
        )
    }

    /// FROM an image: the store's, pulled when missing (or `--pull`), once
    /// per build.
    /// Returns the image, its key, and whether it was pulled.
    pub(super) fn base_image(&self, name: &str) -> Result<BaseImage> {
        // One stage at a time finds or pulls: a base two stages name is
        // pulled once.
        let mut bases = self.shared.bases.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(found) = bases.get(name) {
            return Ok(found.clone());
        }
        let local = if self.opts.pull {
            None
        } else {
            ops::find(&self.m, &self.ns, name)
                .ok()
                .and_then(|mut v| (!v.is_empty()).then(|| v.remove(0)))
        };
        let pulled = local.is_none();
        let rec = match local {
            Some(r) => r,
            None => self.pull(name)?,
        };
        let resolved = ops::resolve(&self.m, &rec, &Platform::host())?;
        if let Some(top) = resolved.chain_ids.last() {
            if !self.m.snapshots.exists(top) {
                return Err(Error::FailedPrecondition(format!(
                    "image {name} is not unpacked (pull it again)"
                )));
            }
        }
        let img = Image::from_base(&resolved.config_raw, &resolved.manifest.layers)?;
        let key = cache::key(
            "",
            &[
                "FROM",
                &resolved.manifest.config.digest,
                &self.variant_key(),
            ],
        );
        bases.insert(name.to_string(), (img.clone(), key.clone(), pulled));
        Ok((img, key, pulled))
    }

    fn pull(&self, name: &str) -> Result<crate::images::ImageRecord> {
        use crate::registry::pull::{pull, PullOptions};
        let rt = tokio::runtime::Handle::current();
        let (tx, mut rx) = mpsc::channel(64);
        rt.spawn(async move { while rx.recv().await.is_some() {} });
        let opts = PullOptions {
            reference: name.to_string(),
            platform: Platform::host(),
            creds: self.creds_for(name),
            unpack: true,
        };
        rt.block_on(pull(self.m.clone(), &self.ns, opts, tx))
    }

    /// The credentials the client sent for `name`'s registry (none:
    /// anonymous).
    fn creds_for(&self, name: &str) -> crate::registry::Credentials {
        crate::images::normalize_name(name)
            .ok()
            .and_then(|n| hull_types::reference::parse(&n).ok())
            .and_then(|r| self.opts.registry_auths.get(r.registry()).cloned())
            .unwrap_or_default()
    }

    fn step(&mut self, stages: &Stages, state: &mut StageState, loc: &Located) -> Result<()> {
        let text = describe(&loc.instruction);
        match &loc.instruction {
            Instruction::Arg(decls) => {
                for d in decls {
                    if let Some(v) = &d.default {
                        state.args.insert(d.name.clone(), v.clone());
                    }
                }
                self.metadata_step(state, &loc.instruction, &text)
            }
            Instruction::Run(r) => self.run_step(stages, state, r, &text),
            Instruction::Copy(c) => self.copy_step(stages, state, c, &text, false),
            Instruction::Add(c) => self.copy_step(stages, state, c, &text, true),
            Instruction::Workdir(w) => self.workdir_step(state, w, &text),
            Instruction::From(_) => Err(Error::Internal("FROM inside a stage".into())),
            other => self.metadata_step(state, other, &text),
        }
    }

    fn metadata_step(
        &mut self,
        state: &mut StageState,
        ins: &Instruction,
        text: &str,
    ) -> Result<()> {
        let key = cache::key(&state.key, &[text]);
        let (created, how) = match self.cached(&key)? {
            Some(rec) => (rec.created, StepState::Cached),
            None => {
                let created = self.created_now();
                let rec = cache::CacheRecord {
                    layer: None,
                    created: created.clone(),
                    used_at: crate::content::now_secs(),
                };
                cache::store(&self.m, &key, &rec)?;
                (created, StepState::Done)
            }
        };
        state.img.apply(ins, text)?;
        if !matches!(ins, Instruction::Arg(_)) {
            state.img.add_history(&created, text, true);
        }
        state.key = key;
        self.step_event(text, how, 0.0);
        Ok(())
    }

    /// The cache record of `key`, unless the build ignores the cache.
    fn cached(&self, key: &str) -> Result<Option<cache::CacheRecord>> {
        if self.opts.no_cache {
            return Ok(None);
        }
        cache::lookup(&self.m, key)
    }

    /// A step that may change files: the cached layer when its key is
    /// known, else `make` (which returns the active snapshot holding the
    /// change, and what must live until its layer is taken) and its layer.
    pub(super) fn fs_step<H>(
        &mut self,
        state: &mut StageState,
        text: &str,
        key_parts: &[&str],
        make: impl FnOnce(&mut Self, &StageState) -> Result<(ActiveSnapshot, H)>,
    ) -> Result<()> {
        let mut parts = vec![text];
        parts.extend_from_slice(key_parts);
        let key = cache::key(&state.key, &parts);
        if let Some(rec) = self.cached(&key)? {
            if let Some(l) = &rec.layer {
                state.img.add_layer(l.descriptor.clone(), &l.diff_id);
            }
            state
                .img
                .add_history(&rec.created, text, rec.layer.is_none());
            state.key = key;
            self.step_event(text, StepState::Cached, 0.0);
            return Ok(());
        }
        self.step_event(text, StepState::Started, 0.0);
        let t0 = Instant::now();
        let (guard, holder) = make(self, state)?;
        let layer = self.finish_layer(&state.img, &guard.key)?;
        drop(holder);
        drop(guard);
        let created = self.created_now();
        if let Some(l) = &layer {
            state.img.add_layer(l.descriptor.clone(), &l.diff_id);
        }
        state.img.add_history(&created, text, layer.is_none());
        let rec = cache::CacheRecord {
            layer,
            created,
            used_at: crate::content::now_secs(),
        };
        cache::store(&self.m, &key, &rec)?;
        state.key = key;
        self.step_event(text, StepState::Done, t0.elapsed().as_secs_f64());
        Ok(())
    }

    /// The layer of active snapshot `key` on `img`: stored in the content
    /// store, the snapshot committed under its chain ID. None (and the
    /// snapshot removed) when nothing changed.
    fn finish_layer(&mut self, img: &Image, key: &str) -> Result<Option<cache::Layer>> {
        let upper = self.m.snapshots.fs_dir(key)?;
        let tmp = self.scratch_path("layer");
        let file = crate::private::options()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&tmp)
            .map_err(|e| Error::io("create layer file", e))?;
        let written =
            super::layer::write_layer(&upper, &self.layer_opts, std::io::BufWriter::new(file))?;
        if written.entries == 0 {
            let _ = std::fs::remove_file(&tmp);
            self.m.snapshots.remove(key)?;
            return Ok(None);
        }
        let ingest = format!("build-{}", written.digest.hex());
        // Two stages may make the same layer at once: the second waits for
        // the first's ingest (and finds the blob there).
        let rt = tokio::runtime::Handle::current();
        match rt.block_on(self.m.content.writer_wait(
            &ingest,
            Some(written.digest.clone()),
            written.size,
        )) {
            Ok(mut w) => {
                use std::io::Read;
                let mut f =
                    std::fs::File::open(&tmp).map_err(|e| Error::io("open layer file", e))?;
                let mut buf = vec![0u8; 256 * 1024];
                loop {
                    let n = f
                        .read(&mut buf)
                        .map_err(|e| Error::io("read layer file", e))?;
                    if n == 0 {
                        break;
                    }
                    w.write(&buf[..n])?;
                }
                w.commit()?;
            }
            Err(Error::AlreadyExists(_)) => {}
            Err(e) => return Err(e),
        }
        let _ = std::fs::remove_file(&tmp);
        let chain = img.chain_after(&written.diff_id.to_string());
        let labels = BTreeMap::from([(
            "hull.io/uncompressed".to_string(),
            written.digest.to_string(),
        )]);
        if self.m.snapshots.exists(&chain) {
            self.m.snapshots.remove(key)?;
        } else {
            match self.m.snapshots.commit(&chain, key, labels) {
                Ok(()) => {}
                Err(Error::AlreadyExists(_)) => self.m.snapshots.remove(key)?,
                Err(e) => return Err(e),
            }
        }
        let media_type = match self.opts.compression {
            Compression::Gzip => crate::images::MT_OCI_LAYER_GZIP,
            Compression::Zstd => crate::images::MT_OCI_LAYER_ZSTD,
            Compression::None => crate::images::MT_OCI_LAYER,
        };
        Ok(Some(cache::Layer {
            descriptor: crate::images::Descriptor {
                media_type: media_type.into(),
                digest: written.digest.to_string(),
                size: written.size as i64,
                ..Default::default()
            },
            diff_id: written.diff_id.to_string(),
            chain,
        }))
    }
}

/// An active snapshot of a step, removed when dropped unless it was
/// committed (renamed) or removed meanwhile.
pub(super) struct ActiveSnapshot {
    pub m: Arc<Manager>,
    pub key: String,
}

impl ActiveSnapshot {
    /// Prepare `key` on `parent` ("" for none).
    pub fn prepare(m: &Arc<Manager>, key: String, parent: &str) -> Result<ActiveSnapshot> {
        m.snapshots.prepare(&key, parent, BTreeMap::new())?;
        Ok(ActiveSnapshot { m: m.clone(), key })
    }
}

impl Drop for ActiveSnapshot {
    fn drop(&mut self) {
        let active = self
            .m
            .snapshots
            .stat(&self.key)
            .is_ok_and(|r| r.kind == crate::snapshots::Kind::Active);
        if active {
            if let Err(e) = self.m.snapshots.remove(&self.key) {
                tracing::warn!(snapshot = %self.key, "removing build snapshot: {e}");
            }
        }
    }
}
