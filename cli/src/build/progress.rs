//! What `hull build` shows while hulld builds (on stderr): `plain` prints
//! one line per event (`#N [stage] INSTRUCTION`, `#N CACHED`, RUN output
//! as `#N line`, `#N DONE 0.3s`); `tty` redraws a compact view in place
//! (each step on one line, the last lines of the running step's output
//! under it); `quiet` shows nothing. When a build fails, the tty and quiet
//! modes print the failing step's output, so the cause is on screen.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::Write;
use std::time::{Duration, Instant};

use hull_proto::v1::{build_step::State, BuildOutput, BuildStep};
use hull_types::untrusted::escape;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Quiet,
    Plain,
    Tty,
}

impl Mode {
    /// `--progress` and `-q`; `auto` is tty on a terminal.
    pub fn pick(progress: &str, quiet: bool, stderr_is_terminal: bool) -> Mode {
        match (quiet, progress) {
            (true, _) => Mode::Quiet,
            (_, "plain") => Mode::Plain,
            (_, "tty") => Mode::Tty,
            _ if stderr_is_terminal => Mode::Tty,
            _ => Mode::Plain,
        }
    }
}

/// Output lines kept per step (shown when the build fails).
const KEPT_LINES: usize = 200;
/// Output lines shown under a running step in tty mode.
const TTY_TAIL: usize = 6;
/// Least time between two tty redraws caused by output.
const REDRAW_EVERY: Duration = Duration::from_millis(100);

#[derive(Debug, Clone, Copy, PartialEq)]
enum StepState {
    Running,
    Cached,
    Done(f64),
}

struct Step {
    stage: String,
    instruction: String,
    state: StepState,
    started: Instant,
    tail: VecDeque<String>,
    announced: bool,
}

pub struct Progress<W: Write> {
    mode: Mode,
    out: W,
    steps: BTreeMap<u32, Step>,
    total: u32,
    /// Output not yet ended by a newline, per (step, stream).
    partial: HashMap<(u32, u32), Vec<u8>>,
    began: Instant,
    drawn: usize,
    last_draw: Option<Instant>,
    /// Terminal size (columns, rows) for tty mode.
    size: (usize, usize),
}

impl<W: Write> Progress<W> {
    pub fn new(mode: Mode, out: W, size: (usize, usize)) -> Self {
        Progress {
            mode,
            out,
            steps: BTreeMap::new(),
            total: 0,
            partial: HashMap::new(),
            began: Instant::now(),
            drawn: 0,
            last_draw: None,
            size,
        }
    }

    /// A line of the client's own (context transfer, naming).
    pub fn note(&mut self, line: &str) {
        if self.mode == Mode::Plain {
            let _ = writeln!(self.out, "{line}");
        }
    }

    pub fn step(&mut self, s: &BuildStep) {
        self.total = self.total.max(s.total);
        let state = match State::try_from(s.state).unwrap_or(State::Started) {
            State::Started => StepState::Running,
            State::Cached => StepState::Cached,
            State::Done => StepState::Done(s.seconds),
        };
        let step = self.steps.entry(s.index).or_insert_with(|| Step {
            stage: s.stage.clone(),
            instruction: s.instruction.clone(),
            state,
            started: Instant::now(),
            tail: VecDeque::new(),
            announced: false,
        });
        step.state = state;
        if self.mode == Mode::Plain {
            if state != StepState::Running {
                self.flush_partial(s.index);
            }
            self.announce(s.index);
            let line = match state {
                StepState::Running => None,
                StepState::Cached => Some(format!("#{} CACHED", s.index)),
                StepState::Done(secs) => Some(format!("#{} DONE {secs:.1}s", s.index)),
            };
            if let Some(l) = line {
                let _ = writeln!(self.out, "{l}");
            }
        }
        self.redraw(true);
    }

    fn announce(&mut self, index: u32) {
        if let Some(st) = self.steps.get_mut(&index) {
            if !st.announced {
                st.announced = true;
                let _ = writeln!(
                    self.out,
                    "#{index} [{}] {}",
                    escape(&st.stage),
                    escape(&st.instruction)
                );
            }
        }
    }

    pub fn output(&mut self, o: &BuildOutput) {
        let key = (o.index, o.stream);
        let buf = self.partial.entry(key).or_default();
        buf.extend_from_slice(&o.data);
        let Some(end) = buf.iter().rposition(|b| *b == b'\n') else {
            return;
        };
        let rest = buf.split_off(end + 1);
        let done = std::mem::replace(buf, rest);
        for line in done[..done.len() - 1].split(|b| *b == b'\n') {
            self.line(o.index, line);
        }
        self.redraw(false);
    }

    /// Ends the unfinished line(s) of step `index`.
    fn flush_partial(&mut self, index: u32) {
        for stream in [1, 2] {
            if let Some(buf) = self.partial.remove(&(index, stream)) {
                if !buf.is_empty() {
                    self.line(index, &buf);
                }
            }
        }
    }

    fn line(&mut self, index: u32, raw: &[u8]) {
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = String::from_utf8_lossy(raw).into_owned();
        if self.mode == Mode::Plain {
            self.announce(index);
            let _ = writeln!(self.out, "#{index} {text}");
        }
        if let Some(st) = self.steps.get_mut(&index) {
            if st.tail.len() == KEPT_LINES {
                st.tail.pop_front();
            }
            st.tail.push_back(text);
        }
    }

    /// The build succeeded: last redraw.
    pub fn finish(&mut self) {
        let keys: Vec<u32> = self.steps.keys().copied().collect();
        for k in keys {
            self.flush_partial(k);
        }
        self.redraw(true);
        let _ = self.out.flush();
    }

    /// The build failed: in tty and quiet modes, the output of the step(s)
    /// still running (the failing one) as plain lines.
    pub fn fail(&mut self) {
        let keys: Vec<u32> = self.steps.keys().copied().collect();
        for k in &keys {
            self.flush_partial(*k);
        }
        self.redraw(true);
        if self.mode != Mode::Plain {
            for k in keys {
                let st = &self.steps[&k];
                if st.state != StepState::Running {
                    continue;
                }
                let _ = writeln!(
                    self.out,
                    "#{k} [{}] {}",
                    escape(&st.stage),
                    escape(&st.instruction)
                );
                for l in &st.tail {
                    let _ = writeln!(self.out, "#{k} {}", escape(l));
                }
            }
        }
        let _ = self.out.flush();
    }

    /// tty mode: rewrite the view in place (output alone redraws at most
    /// every REDRAW_EVERY).
    fn redraw(&mut self, forced: bool) {
        if self.mode != Mode::Tty {
            return;
        }
        let now = Instant::now();
        if !forced && self.last_draw.is_some_and(|t| now - t < REDRAW_EVERY) {
            return;
        }
        self.last_draw = Some(now);
        let lines = self.view(now);
        let mut frame = String::new();
        if self.drawn > 0 {
            frame.push_str(&format!("\r\x1b[{}A", self.drawn));
        }
        frame.push_str("\x1b[J");
        for l in &lines {
            frame.push_str(l);
            frame.push('\n');
        }
        self.drawn = lines.len();
        let _ = self.out.write_all(frame.as_bytes());
        let _ = self.out.flush();
    }

    /// The tty view: a header, then one line per step (running ones with
    /// their last output lines), cut to the terminal's size.
    fn view(&self, now: Instant) -> Vec<String> {
        let (cols, rows) = self.size;
        let finished = self
            .steps
            .values()
            .filter(|s| s.state != StepState::Running)
            .count();
        let mut lines = vec![format!(
            "[+] Building {:.1}s ({finished}/{})",
            (now - self.began).as_secs_f64(),
            self.total.max(self.steps.len() as u32)
        )];
        for s in self.steps.values() {
            let what = format!("[{}] {}", escape(&s.stage), escape(&s.instruction));
            let line = match s.state {
                StepState::Cached => format!(" => CACHED {what}"),
                StepState::Done(secs) => with_time(&format!(" => {what}"), secs, cols),
                StepState::Running => with_time(
                    &format!(" => {what}"),
                    (now - s.started).as_secs_f64(),
                    cols,
                ),
            };
            lines.push(line);
            if s.state == StepState::Running {
                let skip = s.tail.len().saturating_sub(TTY_TAIL);
                for l in s.tail.iter().skip(skip) {
                    lines.push(format!(" => => # {}", escape(l)));
                }
            }
        }
        let keep = rows.saturating_sub(1).max(1);
        let skip = lines.len().saturating_sub(keep);
        lines
            .into_iter()
            .skip(skip)
            .map(|l| cut(&l, cols.saturating_sub(1).max(10)))
            .collect()
    }
}

/// `text` with the seconds right-aligned at column `cols` (the text cut
/// short rather than the time).
fn with_time(text: &str, secs: f64, cols: usize) -> String {
    let t = format!("{secs:.1}s");
    let room = cols.saturating_sub(2 + t.len()).max(10);
    let text = cut(text, room);
    let pad = room.saturating_sub(text.chars().count()) + 1;
    format!("{text}{}{t}", " ".repeat(pad))
}

fn cut(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    s.chars().take(width).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(index: u32, state: State, instruction: &str) -> BuildStep {
        BuildStep {
            index,
            total: 3,
            stage: "build".into(),
            instruction: instruction.into(),
            state: state as i32,
            seconds: 0.25,
        }
    }

    fn out(index: u32, data: &str) -> BuildOutput {
        BuildOutput {
            index,
            stream: 1,
            data: data.as_bytes().to_vec(),
        }
    }

    fn text(p: Progress<Vec<u8>>) -> String {
        String::from_utf8(p.out).unwrap()
    }

    #[test]
    fn mode_follows_flags_and_terminal() {
        assert_eq!(Mode::pick("tty", true, true), Mode::Quiet);
        assert_eq!(Mode::pick("plain", false, true), Mode::Plain);
        assert_eq!(Mode::pick("tty", false, false), Mode::Tty);
        assert_eq!(Mode::pick("auto", false, true), Mode::Tty);
        assert_eq!(Mode::pick("auto", false, false), Mode::Plain);
    }

    #[test]
    fn plain_prints_steps_cached_markers_and_run_output_lines() {
        let mut p = Progress::new(Mode::Plain, Vec::new(), (80, 24));
        p.step(&step(1, State::Cached, "FROM busybox"));
        p.step(&step(2, State::Started, "RUN echo hi"));
        p.output(&out(2, "hel"));
        p.output(&out(2, "lo\nwor"));
        p.output(&out(2, "ld\r\nno end"));
        p.step(&step(2, State::Done, "RUN echo hi"));
        p.finish();
        assert_eq!(
            text(p),
            "#1 [build] FROM busybox\n#1 CACHED\n#2 [build] RUN echo hi\n#2 hello\n#2 world\n#2 no end\n#2 DONE 0.2s\n"
        );
    }

    #[test]
    fn plain_escapes_a_multi_line_instruction_onto_one_line() {
        let mut p = Progress::new(Mode::Plain, Vec::new(), (80, 24));
        p.step(&step(1, State::Started, "RUN <<EOF\necho hi\nEOF"));
        assert_eq!(text(p), "#1 [build] RUN <<EOF\\necho hi\\nEOF\n");
    }

    #[test]
    fn quiet_is_silent_until_a_failure_shows_the_failing_step() {
        let mut p = Progress::new(Mode::Quiet, Vec::new(), (80, 24));
        p.step(&step(1, State::Started, "RUN ok"));
        p.output(&out(1, "fine\n"));
        p.step(&step(1, State::Done, "RUN ok"));
        p.step(&step(2, State::Started, "RUN false"));
        p.output(&out(2, "it broke\n"));
        assert_eq!(p.out.len(), 0);
        p.fail();
        assert_eq!(text(p), "#2 [build] RUN false\n#2 it broke\n");
    }

    #[test]
    fn tty_redraws_in_place_with_the_running_tail() {
        let mut p = Progress::new(Mode::Tty, Vec::new(), (60, 24));
        p.step(&step(1, State::Cached, "FROM busybox"));
        p.step(&step(2, State::Started, "RUN make"));
        for i in 0..10 {
            p.output(&out(2, &format!("line {i}\n")));
        }
        let v = p.view(Instant::now()).join("\n");
        assert!(v.contains(" => => # line 9"), "{v}");
        assert!(
            !v.contains(" => => # line 3"),
            "only the tail is shown: {v}"
        );
        let first_len = p.out.len();
        p.step(&step(2, State::Done, "RUN make"));
        let all = text(p);
        let last = &all[first_len..];
        // The frame moves up over the one drawn before and clears it.
        assert!(last.starts_with("\r\x1b["), "{last:?}");
        assert!(last.contains(" => CACHED [build] FROM busybox\n"));
        assert!(last.contains(" => [build] RUN make"));
        assert!(last.contains("0.2s\n"));
        assert!(!last.contains("line 9"), "a done step hides its output");
        for l in last.lines() {
            let l = l.rsplit("\x1b[J").next().unwrap_or(l);
            assert!(l.chars().count() < 60, "{l:?} wider than the terminal");
        }
    }

    #[test]
    fn tty_keeps_the_time_of_a_long_line() {
        let l = with_time(&format!(" => [0] RUN {}", "x".repeat(100)), 1.25, 40);
        assert_eq!(l.chars().count(), 39, "{l:?}");
        assert!(l.ends_with(" 1.2s"), "{l:?}");
        assert_eq!(with_time(" => a", 0.5, 20), " => a          0.5s");
    }

    #[test]
    fn tty_view_fits_a_short_terminal() {
        let mut p = Progress::new(Mode::Tty, Vec::new(), (80, 5));
        for i in 1..=10 {
            p.step(&step(i, State::Cached, &format!("RUN step {i}")));
        }
        let v = p.view(Instant::now());
        assert_eq!(v.len(), 4);
        assert!(v[3].contains("step 10"));
    }

    #[test]
    fn tty_escapes_control_characters_of_output() {
        let mut p = Progress::new(Mode::Tty, Vec::new(), (80, 24));
        p.step(&step(1, State::Started, "RUN x"));
        p.output(&out(1, "\x1b[2Jclear\n"));
        let v = p.view(Instant::now());
        assert!(v.iter().any(|l| l.contains("\\u{1b}[2Jclear")), "{v:?}");
    }
}
