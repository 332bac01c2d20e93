//! The protocol layer, with no state and no I/O: the command grammar (`command`, `parse`),
//! how commands are delimited on the wire (`framing`) and how responses are written (`render`).

pub mod command;
pub mod framing;
mod parse;
pub mod render;
