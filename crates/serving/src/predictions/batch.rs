//! One deployment's rows since its last flush, kept column by column in flat buffers (numbers as they
//! are, strings as one byte buffer and offsets) that outlive the flush: encoding lends them to Arrow
//! without copying and [`Batch::clear`] keeps their capacity, so a steady deployment's log stops
//! allocating once its buffers have grown to a flush's size.

use std::ops::Range;
use std::sync::Arc;

use cairn_onnx::{Tensor, TensorData};

/// Strings as Arrow keeps them: every value's bytes back to back, and where each one ends.
#[derive(Debug)]
pub(super) struct Strings {
    pub bytes: Vec<u8>,
    /// `offsets[i]..offsets[i + 1]` is value `i`'s bytes; starts with 0.
    pub offsets: Vec<i32>,
}

impl Default for Strings {
    fn default() -> Self {
        Strings {
            bytes: Vec::new(),
            offsets: vec![0],
        }
    }
}

impl Strings {
    pub fn push(&mut self, s: &str) {
        self.bytes.extend_from_slice(s.as_bytes());
        self.offsets.push(self.bytes.len() as i32);
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn clear(&mut self) {
        self.bytes.clear();
        self.offsets.clear();
        self.offsets.push(0);
    }
}

/// A model column's values, typed; a row without a value holds a placeholder listed in
/// [`Cells::missing`].
#[derive(Debug)]
pub(super) enum Values {
    Float(Vec<f64>),
    Int(Vec<i64>),
    Bool(Vec<bool>),
    Text(Strings),
}

impl Values {
    fn empty_like(data: &TensorData) -> Values {
        match data {
            TensorData::F32(_) | TensorData::F64(_) => Values::Float(Vec::new()),
            TensorData::I64(_) | TensorData::I32(_) => Values::Int(Vec::new()),
            TensorData::Bool(_) => Values::Bool(Vec::new()),
            TensorData::String(_) => Values::Text(Strings::default()),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Values::Float(v) => v.len(),
            Values::Int(v) => v.len(),
            Values::Bool(v) => v.len(),
            Values::Text(v) => v.len(),
        }
    }

    fn clear(&mut self) {
        match self {
            Values::Float(v) => v.clear(),
            Values::Int(v) => v.clear(),
            Values::Bool(v) => v.clear(),
            Values::Text(v) => v.clear(),
        }
    }

    /// The same values as text (a column that got values of two types).
    fn into_text(self) -> Strings {
        let mut text = Strings::default();
        match self {
            Values::Float(v) => v.iter().for_each(|x| text.push(&x.to_string())),
            Values::Int(v) => v.iter().for_each(|x| text.push(&x.to_string())),
            Values::Bool(v) => v.iter().for_each(|x| text.push(&x.to_string())),
            Values::Text(v) => return v,
        }
        text
    }
}

/// A column under construction.
#[derive(Debug)]
pub(super) struct Cells {
    pub values: Values,
    /// Rows without a value (a column first seen after them, a request without it), as ranges.
    pub missing: Vec<Range<usize>>,
}

fn push_text(text: &mut Strings, data: &TensorData, k: usize) {
    match data {
        TensorData::F32(v) => text.push(&v[k].to_string()),
        TensorData::F64(v) => text.push(&v[k].to_string()),
        TensorData::I64(v) => text.push(&v[k].to_string()),
        TensorData::I32(v) => text.push(&v[k].to_string()),
        TensorData::Bool(v) => text.push(&v[k].to_string()),
        TensorData::String(v) => text.push(&v[k]),
    }
}

impl Cells {
    /// Appends `data` at `at`; values of another type than the column's turn it into text.
    fn append(&mut self, data: &TensorData, at: impl Iterator<Item = usize>) {
        match (&mut self.values, data) {
            (Values::Float(a), TensorData::F32(v)) => a.extend(at.map(|k| f64::from(v[k]))),
            (Values::Float(a), TensorData::F64(v)) => a.extend(at.map(|k| v[k])),
            (Values::Float(a), TensorData::I64(v)) => a.extend(at.map(|k| v[k] as f64)),
            (Values::Float(a), TensorData::I32(v)) => a.extend(at.map(|k| f64::from(v[k]))),
            (Values::Int(a), TensorData::I64(v)) => a.extend(at.map(|k| v[k])),
            (Values::Int(a), TensorData::I32(v)) => a.extend(at.map(|k| i64::from(v[k]))),
            (Values::Bool(a), TensorData::Bool(v)) => a.extend(at.map(|k| v[k])),
            (Values::Text(a), data) => at.for_each(|k| push_text(a, data, k)),
            (values, data) => {
                let mut text = std::mem::replace(values, Values::Bool(Vec::new())).into_text();
                at.for_each(|k| push_text(&mut text, data, k));
                *values = Values::Text(text);
            }
        }
    }

    /// Missing values up to row `to` (never shortens).
    fn pad(&mut self, to: usize) {
        let from = self.values.len();
        if from >= to {
            return;
        }
        match &mut self.values {
            Values::Float(v) => v.resize(to, 0.0),
            Values::Int(v) => v.resize(to, 0),
            Values::Bool(v) => v.resize(to, false),
            Values::Text(v) => (from..to).for_each(|_| v.push("")),
        }
        match self.missing.last_mut() {
            Some(last) if last.end == from => last.end = to,
            _ => self.missing.push(from..to),
        }
    }
}

/// Where one tensor's values go: a column per value of a row, found once per request shape.
struct Layout {
    tensor: String,
    width: usize,
    /// Named by the signature's columns (a model's only input).
    named: bool,
    columns: Vec<usize>,
}

/// One deployment's rows since its last flush. Model names and versions are kept once and referenced
/// by index.
pub(super) struct Batch {
    pub deployment: Arc<str>,
    pub rows: usize,
    pub request_id: Strings,
    pub row: Vec<i64>,
    pub timestamp: Vec<i64>,
    /// Index into `served` (model name, version) per row.
    pub served_at: Vec<u32>,
    pub served: Vec<(String, String)>,
    pub latency: Vec<f64>,
    /// The model's columns, in first-seen order.
    pub columns: Vec<(String, Cells)>,
    layouts: Vec<Layout>,
    /// Scratch for the repeated deployment, model and version columns at encoding.
    pub repeated: [Strings; 3],
    /// The last file's size, to size the next one's buffer.
    pub encoded_size: usize,
}

impl Batch {
    pub fn new(deployment: Arc<str>) -> Self {
        Batch {
            deployment,
            rows: 0,
            request_id: Strings::default(),
            row: Vec::new(),
            timestamp: Vec::new(),
            served_at: Vec::new(),
            served: Vec::new(),
            latency: Vec::new(),
            columns: Vec::new(),
            layouts: Vec::new(),
            repeated: Default::default(),
            encoded_size: 0,
        }
    }

    /// Bytes of text held (request ids and text columns): a batch is flushed well before Arrow's 32-bit
    /// offsets could overflow.
    pub fn text_bytes(&self) -> usize {
        let text = self.columns.iter().map(|(_, c)| match &c.values {
            Values::Text(t) => t.bytes.len(),
            _ => 0,
        });
        self.request_id.bytes.len() + text.sum::<usize>()
    }

    /// Whether `cells` got no value in this batch (a column of an earlier batch's requests).
    pub fn unseen(&self, cells: &Cells) -> bool {
        self.rows > 0 && cells.missing.first() == Some(&(0..self.rows))
    }

    /// Empties the batch for the next rows, keeping its buffers and the columns it has seen; when
    /// some column was not seen in it (the requests changed shape), the columns start over.
    pub fn clear(&mut self) {
        if self.columns.iter().any(|(_, c)| self.unseen(c)) {
            self.columns.clear();
            self.layouts.clear();
        }
        self.rows = 0;
        self.request_id.clear();
        self.row.clear();
        self.timestamp.clear();
        self.served_at.clear();
        self.served.clear();
        self.latency.clear();
        for (_, cells) in &mut self.columns {
            cells.values.clear();
            cells.missing.clear();
        }
        self.repeated.iter_mut().for_each(Strings::clear);
    }

    pub fn push(&mut self, r: &super::Record) {
        let rows = r
            .inputs
            .first()
            .map_or(0, |t| t.shape.first().copied().unwrap_or(1).max(0) as usize);
        if rows == 0 {
            return;
        }
        let start = self.rows;
        let o = &r.origin;
        let at = match self
            .served
            .iter()
            .rposition(|(m, v)| *m == o.model && *v == o.version)
        {
            Some(i) => i,
            None => {
                self.served.push((o.model.clone(), o.version.clone()));
                self.served.len() - 1
            }
        } as u32;
        self.row.extend(0..rows as i64);
        for _ in 0..rows {
            self.request_id.push(&r.request_id);
        }
        self.timestamp
            .extend(std::iter::repeat_n(r.timestamp_ms, rows));
        self.served_at.extend(std::iter::repeat_n(at, rows));
        self.latency.extend(std::iter::repeat_n(r.latency_ms, rows));
        self.rows += rows;
        let names = (r.inputs.len() == 1)
            .then(|| r.origin.columns.as_deref())
            .flatten();
        for t in &r.inputs {
            self.add_tensor(t, rows, start, names);
        }
        for t in &r.outputs {
            self.add_tensor(t, rows, start, None);
        }
        for (_, cells) in &mut self.columns {
            cells.pad(self.rows);
        }
    }

    /// The columns a `[rows, width]` tensor spreads over, created the first time its shape is seen.
    fn layout(&mut self, t: &Tensor, width: usize, names: Option<&[String]>) -> usize {
        let named = names.is_some_and(|n| n.len() == width);
        if let Some(i) = self
            .layouts
            .iter()
            .position(|l| l.tensor == t.name && l.width == width && l.named == named)
        {
            return i;
        }
        let columns = (0..width)
            .map(|j| {
                let name = match names {
                    Some(n) if named => n[j].clone(),
                    _ if width == 1 => t.name.clone(),
                    _ => format!("{}_{j}", t.name),
                };
                match self.columns.iter().position(|(n, _)| *n == name) {
                    Some(i) => i,
                    None => {
                        let cells = Cells {
                            values: Values::empty_like(&t.data),
                            missing: Vec::new(),
                        };
                        self.columns.push((name, cells));
                        self.columns.len() - 1
                    }
                }
            })
            .collect();
        self.layouts.push(Layout {
            tensor: t.name.clone(),
            width,
            named,
            columns,
        });
        self.layouts.len() - 1
    }

    /// Appends a `[rows, …]` tensor's values: one column per value of a row.
    fn add_tensor(&mut self, t: &Tensor, rows: usize, start: usize, names: Option<&[String]>) {
        if !t.data.len().is_multiple_of(rows) {
            return;
        }
        let width = t.data.len() / rows;
        let l = self.layout(t, width, names);
        for j in 0..width {
            let c = self.layouts[l].columns[j];
            let cells = &mut self.columns[c].1;
            cells.pad(start);
            cells.append(&t.data, (0..rows).map(|i| i * width + j));
        }
    }
}
