//! placeholder: feature expressions / fitted transforms are written by another engineer.
