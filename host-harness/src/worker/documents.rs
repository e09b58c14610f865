//! The worker's document store: `camunda` documents are read through the
//! cluster's document API with the worker's credentials, in place of a folder.

use super::client::CamundaClient;
use crate::engine::documents::{DocumentStore, ReadFuture};
use std::sync::Arc;

pub struct ClusterStore {
    pub client: Arc<CamundaClient>,
}

impl DocumentStore for ClusterStore {
    fn read<'a>(&'a self, store_id: Option<&'a str>, document_id: &'a str, content_hash: Option<&'a str>) -> ReadFuture<'a> {
        Box::pin(self.client.read_document(store_id, document_id, content_hash))
    }
}
