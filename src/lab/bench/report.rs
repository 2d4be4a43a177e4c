//! The benchmark report: a markdown table and a CSV of every sample, and an SVG picture of
//! one failover timeline.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::features::Features;
use super::sessions::SessionsRow;
use super::{BenchOptions, Case, Contender, Footprint, Sample};
use crate::lab::{Flow, LabError, Line, TrafficLog};

/// Timeline bin width.
const BIN: Duration = Duration::from_millis(10);

/// Which line carried the long-lived flow per 10 ms bin around one failover.
#[derive(Debug, Clone)]
pub struct Timeline {
    bins: Vec<Option<Line>>,
    /// Bin of the fault.
    fault_bin: usize,
    /// Bin in which the daemon reported main down, if it did.
    detected_bin: Option<usize>,
}

impl Timeline {
    /// From 1 s before the fault to the end of `log`.
    pub fn from_log(log: &TrafficLog, fault_at: Instant, detected: Option<Duration>) -> Self {
        let lead = Duration::from_secs(1);
        let from = fault_at.checked_sub(lead).unwrap_or(fault_at);
        let bin_of = |d: Duration| (d.as_millis() / BIN.as_millis()) as usize;
        Timeline {
            bins: log.timeline(Flow::LongLived, from, BIN),
            fault_bin: bin_of(fault_at - from),
            detected_bin: detected.map(|d| bin_of(fault_at - from + d)),
        }
    }

    /// The picture: one 2-px column per bin, green = wan1, blue = wan2, red = no reply.
    pub fn svg(&self) -> String {
        let (w, h, top) = (self.bins.len() * 2 + 40, 120, 30);
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"11\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"20\" y=\"16\">long-lived UDP flow, 10 ms per column: green = via wan1 (main), blue = via wan2 (backup), red = no reply</text>\n"
        );
        for (i, bin) in self.bins.iter().enumerate() {
            let colour = match bin {
                Some(Line::One) => "#2a9d3f",
                Some(Line::Two) => "#2f6fd6",
                None => "#d63a2f",
            };
            let x = 20 + i * 2;
            writeln!(
                svg,
                "<rect x=\"{x}\" y=\"{top}\" width=\"2\" height=\"50\" fill=\"{colour}\"/>"
            )
            .unwrap();
        }
        self.marker(&mut svg, self.fault_bin, "fault");
        if let Some(bin) = self.detected_bin {
            self.marker(&mut svg, bin, "main declared down");
        }
        svg += "</svg>\n";
        svg
    }

    fn marker(&self, svg: &mut String, bin: usize, label: &str) {
        let x = 20 + bin * 2;
        writeln!(svg, "<line x1=\"{x}\" y1=\"24\" x2=\"{x}\" y2=\"90\" stroke=\"black\" stroke-width=\"1\"/><text x=\"{x}\" y=\"104\">{label} (+{} ms)</text>", (bin.saturating_sub(self.fault_bin)) * 10).unwrap();
    }
}

/// One progress line on stderr.
pub fn sample_line(s: &Sample) -> String {
    format!(
        "run {} | {:<15} | {:<24} | long-lived {:>10} | fresh {:>10}{}{}",
        s.run,
        s.contender.to_string(),
        s.case.to_string(),
        if measures_outage(s.case) {
            ms(s.long_lived)
        } else {
            "-".into()
        },
        if measures_outage(s.case) {
            ms(s.fresh)
        } else {
            "-".into()
        },
        s.switches
            .map_or(String::new(), |n| format!(" | switches {n}")),
        s.ended_right
            .map_or(String::new(), |ok| format!(" | ended on main: {ok}")),
    )
}

/// Flapping is judged by switches and the final line, not by an outage.
fn measures_outage(case: Case) -> bool {
    !matches!(case, Case::Flap)
}

fn ms(d: Option<Duration>) -> String {
    d.map_or("never".into(), |d| format!("{} ms", d.as_millis()))
}

/// Median, p95 and max of durations, with "never" when any run did not recover.
fn stats(values: &[Option<Duration>]) -> String {
    if values.is_empty() {
        return "-".into();
    }
    let never = values.iter().filter(|v| v.is_none()).count();
    let mut ok: Vec<u128> = values.iter().flatten().map(Duration::as_millis).collect();
    if ok.is_empty() {
        return "never recovers".into();
    }
    ok.sort_unstable();
    let pick = |q: f64| ok[((ok.len() - 1) as f64 * q).round() as usize];
    let mut text = format!("{} / {} / {}", pick(0.5), pick(0.95), ok[ok.len() - 1]);
    if never > 0 {
        text += &format!(" ({never}× never)");
    }
    text
}

fn table(samples: &[Sample]) -> String {
    let mut out = String::from(
        "| case | contender | long-lived ms (median / p95 / max) | fresh flows ms (median / p95 / max) | switches | ends on main |\n|---|---|---|---|---|---|\n",
    );
    for case in Case::ALL {
        for contender in Contender::ALL {
            let rows: Vec<&Sample> = samples
                .iter()
                .filter(|s| s.case == case && s.contender == contender)
                .collect();
            if rows.is_empty() {
                continue;
            }
            let outage = |pick: fn(&Sample) -> Option<Duration>| {
                let values: Vec<_> = rows.iter().map(|s| pick(s)).collect();
                if measures_outage(case) {
                    stats(&values)
                } else {
                    "-".into()
                }
            };
            let switches: Vec<String> = rows
                .iter()
                .filter_map(|s| s.switches)
                .map(|n| n.to_string())
                .collect();
            let ended: Vec<String> = rows
                .iter()
                .filter_map(|s| s.ended_right)
                .map(|b| b.to_string())
                .collect();
            writeln!(
                out,
                "| {case} | {contender} | {} | {} | {} | {} |",
                outage(|s| s.long_lived),
                outage(|s| s.fresh),
                if switches.is_empty() {
                    "-".into()
                } else {
                    switches.join(", ")
                },
                if ended.is_empty() {
                    "-".into()
                } else {
                    ended.join(", ")
                },
            )
            .unwrap();
        }
    }
    out
}

fn csv(samples: &[Sample]) -> String {
    let mut out =
        String::from("run,contender,case,long_lived_ms,fresh_ms,switches,ended_on_main\n");
    let opt = |d: Option<Duration>| d.map_or(String::new(), |d| d.as_millis().to_string());
    for s in samples {
        writeln!(
            out,
            "{},{},{},{},{},{},{}",
            s.run,
            s.contender,
            s.case,
            opt(s.long_lived),
            opt(s.fresh),
            s.switches.map_or(String::new(), |n| n.to_string()),
            s.ended_right.map_or(String::new(), |b| b.to_string()),
        )
        .unwrap();
    }
    out
}

/// Writes results.md, results.csv and timeline.svg into a new folder under `out`.
pub fn write(
    out: &Path,
    opts: &BenchOptions,
    samples: &[Sample],
    timeline: Option<&Timeline>,
    footprint: Option<&Footprint>,
    features: Option<&Features>,
    sessions: Option<&SessionsRow>,
) -> Result<PathBuf, LabError> {
    let stamp = crate::daemon::status::format_wall(std::time::SystemTime::now()).replace(':', "");
    let dir = out.join(format!("bench-{stamp}"));
    fs::create_dir_all(&dir).map_err(LabError::io("create results folder"))?;
    let mut md = format!(
        "# uplink failover benchmark\n\n{} run(s) per case, loss held {} s, each case on a fresh namespace lab with strict rp_filter.\nOutage = from the fault to the first reply of the run of replies that lasts to the end (10 ms resolution for the long-lived flow, 100 ms for fresh flows). For loss cases: the worst gap while the loss lasted; for the ISP recovery: time from the ISP's recovery to the first reply via main.\n\n",
        opts.runs,
        opts.loss_hold.as_secs()
    );
    md += &table(samples);
    if let Some(f) = footprint {
        md += &format!("\n{}", f.markdown());
    }
    if let Some(f) = features {
        md += &format!("\n{}", f.markdown());
    }
    if let Some(s) = sessions {
        md += &format!("\n{}", s.markdown());
    }
    if timeline.is_some() {
        md += "\n![failover timeline](timeline.svg)\n";
    }
    let write = |name: &str, text: &str| {
        fs::write(dir.join(name), text).map_err(LabError::io(format!("write {name}")))
    };
    write("results.md", &md)?;
    write("results.csv", &csv(samples))?;
    if let Some(t) = timeline {
        write("timeline.svg", &t.svg())?;
    }
    println!("{md}");
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_report_median_p95_max_and_failures() {
        let d = |ms| Some(Duration::from_millis(ms));
        assert_eq!(stats(&[d(30), d(10), d(20)]), "20 / 30 / 30");
        assert_eq!(stats(&[d(10), None]), "10 / 10 / 10 (1× never)");
        assert_eq!(stats(&[None, None]), "never recovers");
    }
}
