//! The engine contract for the cluster (`--features ballista`): row expressions lowered to SQL the executors
//! evaluate (`to_sql`), and the tables' rows as the executors read them from the store's parts
//! (`from_store`). `src/distributed` runs them; everything else about a run is the same on either engine.

#[cfg(feature = "ballista")]
pub(crate) mod from_store;
pub(crate) mod to_sql;
