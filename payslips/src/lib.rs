//! Payslips and the payroll register, rendered from a run's results.
//!
//! The caller maps run results to [`Payslip`] / [`Register`]; this crate only
//! lays them out. Build one [`Renderer`] per batch (fonts are parsed and
//! formats built there) and share it across threads: it is `Send + Sync`, and
//! each payslip then costs only its own text.

mod deflate;
mod font;
mod format;
mod lang;
mod model;
mod pdf;
mod register;
mod script;
mod shaping;
mod words;
mod xlsx;

pub use format::format_inr;
pub use lang::{Catalogue, Language, Layout};
pub use model::{Item, Line, Payslip, PeriodArrears, Register, RegisterColumn, RegisterRow, WorkerBlock};
pub use register::{RegisterWriter, render_register};
pub use words::{amount_in_words, amount_in_words_in};

/// Everything that can stop a payslip or register from being written.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("font could not be loaded: {0}")]
    Font(String),
    #[error("XLSX could not be written: {0}")]
    Xlsx(#[from] rust_xlsxwriter::XlsxError),
    #[error("deflating a payslip's stream failed: {0}")]
    Deflate(String),
    #[error("the payslip workbook's template is not as expected: {0}")]
    Template(String),
    #[error("payslip of worker {worker_id} has more lines than fit on one A4 page")]
    PageOverflow { worker_id: String },
    #[error("register row of worker {worker_id} has {got} amounts for {want} columns")]
    RegisterShape { worker_id: String, got: usize, want: usize },
}

/// Renders payslips as PDF and XLSX; build once per batch, reuse for every worker.
pub struct Renderer {
    pdf: pdf::PdfRenderer,
    xlsx: xlsx::XlsxRenderer,
}

impl Renderer {
    pub fn new() -> Result<Self, Error> {
        Ok(Renderer {
            pdf: pdf::PdfRenderer::new()?,
            xlsx: xlsx::XlsxRenderer::new()?,
        })
    }

    /// One A4 page; fails with [`Error::PageOverflow`] rather than spill onto a second.
    pub fn render_pdf(&self, p: &Payslip) -> Result<Vec<u8>, Error> {
        self.pdf.render(p)
    }

    pub fn render_xlsx(&self, p: &Payslip) -> Result<Vec<u8>, Error> {
        self.xlsx.render(p)
    }
}

// Batches render on several threads with one shared renderer; this stops the
// build if that ever becomes impossible.
const _: () = {
    const fn shareable<T: Send + Sync>() {}
    shareable::<Renderer>();
};
