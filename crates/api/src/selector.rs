//! Label and field selectors, parsed, printed and matched as apimachinery does.
//!
//! * [`LabelSelector`]: `k`, `!k`, `k=v`, `k==v`, `k!=v`, `k in (a,b)`, `k notin (a,b)`, `k>N`, `k<N`, joined
//!   by commas (AND). The `labelSelector` query parameter, and what `matchLabels`/`matchExpressions` mean.
//! * [`FieldSelector`]: `field=value`, `field==value`, `field!=value`, joined by commas, with `\,` `\=` `\\`
//!   escapes in values. The `fieldSelector` query parameter.
//!
//! Parse errors carry Kubernetes' wording (`unable to parse requirement: …`, `invalid selector: …`), which
//! the apiserver returns verbatim in a 400.

mod field;
mod label;

pub use field::{FieldOperator, FieldRequirement, FieldSelector, escape_field_value};
pub use label::{LabelSelector, Operator, Requirement};
