//! The worker's document store: `camunda` documents are read, and results asked
//! for as document references are created, through the cluster's document API
//! with the worker's credentials, in place of a folder.

use super::client::CamundaClient;
use crate::engine::documents::{CreateFuture, DocumentStore, ReadFuture};
use std::sync::Arc;

pub struct ClusterStore {
    pub client: Arc<CamundaClient>,
}

impl DocumentStore for ClusterStore {
    fn read<'a>(&'a self, store_id: Option<&'a str>, document_id: &'a str, content_hash: Option<&'a str>) -> ReadFuture<'a> {
        Box::pin(self.client.read_document(store_id, document_id, content_hash))
    }

    fn create<'a>(&'a self, content: Vec<u8>, content_type: &'a str, file_name: &'a str) -> CreateFuture<'a> {
        Box::pin(self.client.create_document(content, content_type, file_name))
    }
}
