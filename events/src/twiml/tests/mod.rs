mod execute;
mod parse;
mod properties;
