//! otwatch sensor (in progress).
