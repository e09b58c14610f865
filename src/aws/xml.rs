//! Just enough XML for AWS error bodies: the text of the first element with a
//! given name. S3 answers errors in XML, and so do some endpoints' front doors
//! (an auth layer in front of a JSON service, for instance).

/// The text of the first `<tag>...</tag>`, with the five predefined entities decoded.
pub fn element_text(xml: &str, tag: &str) -> Option<String> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    let raw = &xml[start..end];
    Some(
        raw.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

#[cfg(test)]
mod tests {
    use super::element_text;

    #[test]
    fn finds_elements_and_decodes_entities() {
        let xml = "<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>a &amp; b &lt;c&gt;</Message></Error></Errors></ErrorResponse>";
        assert_eq!(element_text(xml, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(element_text(xml, "Message").as_deref(), Some("a & b <c>"));
        assert_eq!(element_text(xml, "RequestId"), None);
        assert_eq!(element_text("<Code>unterminated", "Code"), None);
    }
}
