-- _headers (issue 10, item 12): a value that is UTF-8 text without NUL is a JSON string, any
-- other value is {"b64": "..."}, so a text value that reads like bytea hex is not mistaken for
-- bytes and no byte is lost; decode_message takes headers in the same form.
CREATE TABLE hdr (x int, _headers jsonb);
CREATE TABLE hdr2 (x int, _headers json);
SELECT _headers FROM streamext.decode_message(NULL::hdr, '{"x": 1}', 'json', '{}', NULL, 't', 0, 0, NULL,
	'{"text": "hello", "looks_hex": "\\x0102", "binary": {"b64": "AAEC/w=="}, "nul": {"b64": "YQBi"},
	  "valid_b64": {"b64": "aGk="}, "none": null, "empty": "", "empty_b64": {"b64": ""}}');
-- json (text) columns get the same
SELECT _headers FROM streamext.decode_message(NULL::hdr2, '{"x": 2}', 'json', '{}', NULL, 't', 0, 0, NULL,
	'{"a": {"b64": "/w=="}, "b": "\\x01"}');
-- other forms are refused: invalid base64, other objects, numbers
SELECT _headers FROM streamext.decode_message(NULL::hdr, '{"x": 3}', 'json', '{}', NULL, 't', 0, 0, NULL,
	'{"a": {"b64": "!!"}}');
SELECT _headers FROM streamext.decode_message(NULL::hdr, '{"x": 4}', 'json', '{}', NULL, 't', 0, 0, NULL,
	'{"a": {"hex": "00"}}');
SELECT _headers FROM streamext.decode_message(NULL::hdr, '{"x": 5}', 'json', '{}', NULL, 't', 0, 0, NULL,
	'{"a": 1}');
DROP TABLE hdr, hdr2;
