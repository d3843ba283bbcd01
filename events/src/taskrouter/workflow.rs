//! Workflow configuration: the JSON document that routes tasks to task queues, compiled once
//! (every expression parsed, every queue SID checked) so that routing a task is pure
//! evaluation.
//!
//! ```json
//! {"task_routing": {
//!    "filters": [{"filter_friendly_name": "Gold", "expression": "tier == 'gold'",
//!                 "targets": [{"queue": "WQ…", "priority": 10, "timeout": 30},
//!                             {"expression": "task.language IN worker.languages", "timeout": 60},
//!                             {"queue": "WQ…", "order_by": "worker.level DESC",
//!                              "skip_if": "workers.available == 0"}]}],
//!    "default_filter": {"queue": "WQ…"}}}
//! ```
//!
//! Semantics (Twilio's): filters are tried top-down and the first whose expression matches
//! the task's attributes wins; its targets are tried in order, a target's `timeout` moving the
//! task to the next; a target without a `queue` inherits the previous target's; a target's
//! `priority` overrides the task's. When the last target of a filter times out, the task may
//! match a later filter; if none matches, the workflow times out. `default_filter` applies only
//! when no filter matched at first. A target's `skip_if` (over `workers.available`,
//! `workers.unavailable` and `workers.<ActivitySid>` of its queue) moves a task that got no
//! reservation on entering it to the next target at once, by the same [`Workflow::next`] as a
//! timeout (evaluated in [`routing`](super::routing)).

use super::expression::{Context, Expression, ParseError};
use crate::sid::{Sid, SidPrefix};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Largest configuration document Twilio accepts (bytes).
pub const MAX_CONFIGURATION_BYTES: usize = 1_038_576;

/// The document as written (unknown members are ignored, as Twilio does).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Configuration {
    /// The routing rules.
    pub task_routing: TaskRouting,
}

/// `task_routing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRouting {
    /// Tried top-down.
    #[serde(default)]
    pub filters: Vec<FilterDoc>,
    /// Used when no filter matches at first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_filter: Option<TargetDoc>,
}

/// One filter as written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FilterDoc {
    /// Its name, for routing explanations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_friendly_name: Option<String>,
    /// Condition over task attributes.
    pub expression: String,
    /// Where matching tasks go, in order.
    pub targets: Vec<TargetDoc>,
}

/// One target as written.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetDoc {
    /// Task queue SID (inherited from the previous target when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// Overrides the task's priority while at this target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<i64>,
    /// Seconds before moving on to the next target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<u64>,
    /// Condition over `task.` and `worker.` that eligible workers must meet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression: Option<String>,
    /// `worker.<attr> ASC|DESC, …`
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_by: Option<String>,
    /// Over `workers.available` etc.: skip this target when it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip_if: Option<String>,
    /// Route to this one worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub known_worker_sid: Option<String>,
}

/// Why a configuration document is refused; `path` says where in the document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid workflow configuration at {path}: {message}")]
pub struct ConfigurationError {
    /// JSON path, e.g. `task_routing.filters[1].targets[0].expression`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> ConfigurationError {
    ConfigurationError {
        path: path.into(),
        message: message.into(),
    }
}

fn expression(path: &str, source: &str) -> Result<Expression, ConfigurationError> {
    Expression::parse(source).map_err(|e: ParseError| invalid(path, e.to_string()))
}

/// Sort direction of an `order_by` clause.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// One `order_by` clause: a worker attribute path and a direction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    /// Path below `worker.`, e.g. `["level"]`.
    pub attribute: Vec<String>,
    /// Direction.
    pub direction: Direction,
}

/// Parses `worker.level DESC, worker.skill.rank ASC`.
pub fn parse_order_by(text: &str) -> Result<Vec<OrderBy>, String> {
    text.split(',')
        .map(|clause| {
            let mut words = clause.split_whitespace();
            let key = words.next().ok_or("empty order_by clause")?;
            let direction = match words.next().map(str::to_ascii_uppercase).as_deref() {
                None | Some("ASC") => Direction::Asc,
                Some("DESC") => Direction::Desc,
                Some(other) => {
                    return Err(format!(
                        "order_by direction must be ASC or DESC, got {other}"
                    ))
                }
            };
            if words.next().is_some() {
                return Err(format!(
                    "order_by clause {clause:?} has more than a key and a direction"
                ));
            }
            let attribute = key
                .strip_prefix("worker.")
                .ok_or_else(|| format!("order_by key {key:?} must start with worker."))?;
            let attribute: Vec<String> = attribute.split('.').map(str::to_string).collect();
            if attribute
                .iter()
                .any(|a| a.is_empty() || !a.chars().all(|c| c.is_alphanumeric() || c == '_'))
            {
                return Err(format!(
                    "order_by key {key:?} is not a worker attribute path"
                ));
            }
            Ok(OrderBy {
                attribute,
                direction,
            })
        })
        .collect()
}

/// A target, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The task queue (after inheritance).
    pub queue: Sid,
    /// Priority override.
    pub priority: Option<i64>,
    /// Seconds at this target before the next one.
    pub timeout: Option<u64>,
    /// Worker condition (`task.`/`worker.` prefixed).
    pub expression: Option<Expression>,
    /// Worker ordering; empty means longest idle first.
    pub order_by: Vec<OrderBy>,
    /// Skip condition over worker counts.
    pub skip_if: Option<Expression>,
    /// One specific worker.
    pub known_worker_sid: Option<Sid>,
}

/// A filter, compiled.
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// Its name (or `filter-N`).
    pub name: String,
    /// Condition over task attributes.
    pub expression: Expression,
    /// Targets, in order.
    pub targets: Vec<Target>,
}

/// A compiled workflow configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Workflow {
    /// Filters, top-down.
    pub filters: Vec<Filter>,
    /// The default target.
    pub default_target: Option<Target>,
    /// The document it came from (normalised JSON), to serve back.
    pub document: Configuration,
}

/// Where a task is routed: which filter (`None` = the default filter) and which target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Index of the matching filter; `None` for the default filter.
    pub filter: Option<usize>,
    /// Index of the target within it.
    pub target: usize,
}

fn compile_target(
    path: &str,
    doc: &TargetDoc,
    inherited: Option<&Sid>,
) -> Result<Target, ConfigurationError> {
    let queue = match (&doc.queue, inherited) {
        (Some(q), _) => Sid::parse_as(q, SidPrefix::TaskQueue).map_err(|e| {
            invalid(
                format!("{path}.queue"),
                format!("{q:?} is not a task queue SID: {e}"),
            )
        })?,
        (None, Some(q)) => q.clone(),
        (None, None) => {
            return Err(invalid(
                format!("{path}.queue"),
                "the first target needs a queue",
            ))
        }
    };
    let known_worker_sid = match &doc.known_worker_sid {
        None => None,
        Some(w) => Some(
            Sid::parse_as(w, SidPrefix::Worker)
                .map_err(|e| invalid(format!("{path}.known_worker_sid"), format!("{w:?}: {e}")))?,
        ),
    };
    Ok(Target {
        queue,
        priority: doc.priority,
        timeout: doc.timeout,
        expression: doc
            .expression
            .as_deref()
            .map(|e| expression(&format!("{path}.expression"), e))
            .transpose()?,
        order_by: doc
            .order_by
            .as_deref()
            .map(parse_order_by)
            .transpose()
            .map_err(|m| invalid(format!("{path}.order_by"), m))?
            .unwrap_or_default(),
        skip_if: doc
            .skip_if
            .as_deref()
            .map(|e| expression(&format!("{path}.skip_if"), e))
            .transpose()?,
        known_worker_sid,
    })
}

impl Workflow {
    /// Parses and compiles a configuration document.
    pub fn compile(text: &str) -> Result<Workflow, ConfigurationError> {
        if text.len() > MAX_CONFIGURATION_BYTES {
            return Err(invalid(
                "$",
                format!("the document is over {MAX_CONFIGURATION_BYTES} bytes"),
            ));
        }
        let document: Configuration =
            serde_json::from_str(text).map_err(|e| invalid("$", e.to_string()))?;
        let mut filters = Vec::new();
        for (i, f) in document.task_routing.filters.iter().enumerate() {
            let path = format!("task_routing.filters[{i}]");
            if f.targets.is_empty() {
                return Err(invalid(
                    format!("{path}.targets"),
                    "a filter needs at least one target",
                ));
            }
            let mut targets: Vec<Target> = Vec::new();
            for (j, t) in f.targets.iter().enumerate() {
                let inherited = targets.last().map(|t| &t.queue);
                targets.push(compile_target(
                    &format!("{path}.targets[{j}]"),
                    t,
                    inherited,
                )?);
            }
            filters.push(Filter {
                name: f
                    .filter_friendly_name
                    .clone()
                    .unwrap_or_else(|| format!("filter-{i}")),
                expression: expression(&format!("{path}.expression"), &f.expression)?,
                targets,
            });
        }
        let default_target = document
            .task_routing
            .default_filter
            .as_ref()
            .map(|t| compile_target("task_routing.default_filter", t, None))
            .transpose()?;
        Ok(Workflow {
            filters,
            default_target,
            document,
        })
    }

    /// Every task queue the workflow can route to (for checking they exist).
    pub fn queues(&self) -> Vec<&Sid> {
        let mut all: Vec<&Sid> = self
            .filters
            .iter()
            .flat_map(|f| f.targets.iter().map(|t| &t.queue))
            .chain(self.default_target.iter().map(|t| &t.queue))
            .collect();
        all.sort();
        all.dedup();
        all
    }

    /// How many targets the workflow has in all (every filter's, and the default one): a task
    /// can move on ([`Workflow::next`]) fewer times than this, which bounds a chain of skips.
    pub fn target_count(&self) -> usize {
        self.filters.iter().map(|f| f.targets.len()).sum::<usize>()
            + usize::from(self.default_target.is_some())
    }

    /// The target a step names.
    pub fn target(&self, step: Step) -> Option<&Target> {
        match step.filter {
            Some(f) => self.filters.get(f)?.targets.get(step.target),
            None if step.target == 0 => self.default_target.as_ref(),
            None => None,
        }
    }

    fn first_matching(&self, from: usize, attributes: &Value, now: DateTime<Utc>) -> Option<usize> {
        let context = Context::document(attributes).at(now);
        (from..self.filters.len()).find(|i| self.filters[*i].expression.matches(&context))
    }

    /// Where a new task goes; `None` when no filter matches and there is no default filter.
    pub fn route(&self, attributes: &Value, now: DateTime<Utc>) -> Option<Step> {
        match self.first_matching(0, attributes, now) {
            Some(f) => Some(Step {
                filter: Some(f),
                target: 0,
            }),
            None => self.default_target.as_ref().map(|_| Step {
                filter: None,
                target: 0,
            }),
        }
    }

    /// Where a task goes when its current target times out (or is skipped): the next target
    /// of the same filter, else the first later filter that matches; `None` means the
    /// workflow has timed out.
    pub fn next(&self, step: Step, attributes: &Value, now: DateTime<Utc>) -> Option<Step> {
        let f = step.filter?;
        if step.target + 1 < self.filters.get(f)?.targets.len() {
            return Some(Step {
                filter: Some(f),
                target: step.target + 1,
            });
        }
        self.first_matching(f + 1, attributes, now).map(|g| Step {
            filter: Some(g),
            target: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn q(n: u128) -> String {
        Sid::from_u128(SidPrefix::TaskQueue, n).to_string()
    }

    fn now() -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_764_090_000_000).unwrap_or_default()
    }

    fn workflow() -> Workflow {
        let doc = json!({"task_routing": {
            "filters": [
                {"filter_friendly_name": "Gold", "expression": "tier == 'gold'",
                 "targets": [{"queue": q(1), "priority": 10, "timeout": 30},
                             {"expression": "task.language IN worker.languages", "timeout": 60},
                             {"queue": q(2), "order_by": "worker.level DESC, worker.age",
                              "skip_if": "workers.available == 0"}]},
                {"expression": "language == 'es'", "targets": [{"queue": q(3)}]}
            ],
            "default_filter": {"queue": q(9)}
        }});
        Workflow::compile(&doc.to_string()).expect("compiles")
    }

    #[test]
    fn the_first_matching_filter_wins_and_targets_inherit_the_queue() {
        let w = workflow();
        let task = json!({"tier": "gold", "language": "es"});
        let step = w.route(&task, now()).expect("routed");
        assert_eq!(
            step,
            Step {
                filter: Some(0),
                target: 0
            }
        );
        let first = w.target(step).expect("target");
        assert_eq!((first.queue.to_string(), first.priority), (q(1), Some(10)));
        let second = w
            .target(Step {
                filter: Some(0),
                target: 1,
            })
            .expect("target");
        assert_eq!(second.queue.to_string(), q(1), "inherited");
        assert_eq!(w.filters[0].name, "Gold");
        assert_eq!(w.filters[1].name, "filter-1");
        assert_eq!(w.queues().len(), 4);
    }

    #[test]
    fn timeouts_walk_the_targets_then_later_filters_then_end() {
        let w = workflow();
        let task = json!({"tier": "gold", "language": "es"});
        let mut step = w.route(&task, now()).expect("routed");
        let mut path = vec![step];
        while let Some(next) = w.next(step, &task, now()) {
            path.push(next);
            step = next;
        }
        assert_eq!(
            path,
            vec![
                Step {
                    filter: Some(0),
                    target: 0
                },
                Step {
                    filter: Some(0),
                    target: 1
                },
                Step {
                    filter: Some(0),
                    target: 2
                },
                Step {
                    filter: Some(1),
                    target: 0
                },
            ]
        );
        // A gold task in English matches no later filter: the workflow times out.
        let english = json!({"tier": "gold", "language": "en"});
        assert_eq!(
            w.next(
                Step {
                    filter: Some(0),
                    target: 2
                },
                &english,
                now()
            ),
            None
        );
    }

    #[test]
    fn the_default_filter_catches_what_no_filter_matches_and_has_no_next() {
        let w = workflow();
        let step = w.route(&json!({"tier": "silver"}), now()).expect("default");
        assert_eq!(
            step,
            Step {
                filter: None,
                target: 0
            }
        );
        assert_eq!(w.target(step).map(|t| t.queue.to_string()), Some(q(9)));
        assert_eq!(w.next(step, &json!({}), now()), None);
    }

    #[test]
    fn order_by_and_skip_if_are_compiled() {
        let w = workflow();
        let t = w
            .target(Step {
                filter: Some(0),
                target: 2,
            })
            .expect("target");
        assert_eq!(
            t.order_by,
            vec![
                OrderBy {
                    attribute: vec!["level".into()],
                    direction: Direction::Desc
                },
                OrderBy {
                    attribute: vec!["age".into()],
                    direction: Direction::Asc
                },
            ]
        );
        let counts = json!({"available": 0});
        assert!(t
            .skip_if
            .as_ref()
            .expect("skip_if")
            .matches(&Context::default().with_root("workers", &counts)));
    }

    #[test]
    fn bad_documents_say_where() {
        let cases = [
            (
                json!({"task_routing": {"filters": [{"expression": "a ==", "targets": [{"queue": q(1)}]}]}}),
                "task_routing.filters[0].expression",
                "character 4",
            ),
            (
                json!({"task_routing": {"filters": [{"expression": "1==1", "targets": [{"timeout": 3}]}]}}),
                "task_routing.filters[0].targets[0].queue",
                "first target needs a queue",
            ),
            (
                json!({"task_routing": {"filters": [{"expression": "1==1", "targets": [{"queue": "WW00000000000000000000000000000001"}]}]}}),
                "task_routing.filters[0].targets[0].queue",
                "not a task queue SID",
            ),
            (
                json!({"task_routing": {"filters": [{"expression": "1==1", "targets": []}]}}),
                "task_routing.filters[0].targets",
                "at least one target",
            ),
            (
                json!({"task_routing": {"filters": [{"expression": "1==1", "targets": [{"queue": q(1), "order_by": "level DESC"}]}]}}),
                "task_routing.filters[0].targets[0].order_by",
                "worker.",
            ),
            (
                json!({"task_routing": {"default_filter": {"queue": q(1), "skip_if": "x !"}}}),
                "task_routing.default_filter.skip_if",
                "expression error",
            ),
            (json!({"routing": {}}), "$", "task_routing"),
        ];
        for (doc, path, says) in cases {
            let err = Workflow::compile(&doc.to_string()).expect_err("refused");
            assert_eq!(err.path, path, "{err}");
            assert!(err.message.contains(says), "{err}");
        }
        assert_eq!(
            Workflow::compile("not json")
                .map(|_| ())
                .map_err(|e| e.path),
            Err("$".to_string())
        );
    }

    #[test]
    fn order_by_parsing() {
        assert_eq!(
            parse_order_by("worker.a.b desc"),
            Ok(vec![OrderBy {
                attribute: vec!["a".into(), "b".into()],
                direction: Direction::Desc
            }])
        );
        assert!(parse_order_by("worker.a SIDEWAYS").is_err());
        assert!(parse_order_by("worker.a DESC extra").is_err());
        assert!(parse_order_by("worker. DESC").is_err());
        assert!(parse_order_by("").is_err());
    }
}
