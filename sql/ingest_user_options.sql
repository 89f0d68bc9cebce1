-- Options on_unknown_key and on_missing_column (format json): a JSON key that
-- matches no column and a column that no key fills are ignored by default
-- (and counted in source_status / source_warnings); "dead_letter" makes such a
-- message a dead letter, with an error naming the key or column.  Tried here
-- with decode_message(), which decodes as a source would and raises the error
-- a source would write into streamext.dead_letters.
CREATE TABLE se_uo (device_id text, humidity float8, seq bigint, note text DEFAULT 'none',
                    _offset bigint);

-- defaults: ignore; the misspelled key is dropped and humidity is NULL
SELECT * FROM streamext.decode_message(NULL::se_uo, '{"device_id": "d1", "humidty": 40.5, "seq": 1}');
SELECT * FROM streamext.decode_message(NULL::se_uo, '{"device_id": "d1", "humidty": 40.5, "seq": 1}',
                                       'json', '{"on_unknown_key": "ignore", "on_missing_column": "ignore"}');

-- on_unknown_key: dead_letter
SELECT * FROM streamext.decode_message(NULL::se_uo, '{"device_id": "d1", "humidty": 40.5, "humidity": 1, "seq": 1}',
                                       'json', '{"on_unknown_key": "dead_letter"}');
SELECT * FROM streamext.decode_message(NULL::se_uo, '{"device_id": "d1", "humidity": 1, "seq": 1}',
                                       'json', '{"on_unknown_key": "dead_letter"}');
-- keys named like metadata columns match a column: not unknown
SELECT * FROM streamext.decode_message(NULL::se_uo, '{"device_id": "d1", "_offset": 7}',
                                       'json', '{"on_unknown_key": "dead_letter"}');
-- an escaped key is compared unescaped
SELECT * FROM streamext.decode_message(NULL::se_uo, convert_to('{"device\u005fid": "d1", "se\u0071": 2}', 'UTF8'),
                                       'json', '{"on_unknown_key": "dead_letter"}');

-- on_missing_column: dead_letter; a column with a DEFAULT is not missing, a JSON null is a value
SELECT * FROM streamext.decode_message(NULL::se_uo, '{"device_id": "d1", "seq": 1}',
                                       'json', '{"on_missing_column": "dead_letter"}');
SELECT * FROM streamext.decode_message(NULL::se_uo, '{"device_id": "d1", "humidity": null, "seq": 1}',
                                       'json', '{"on_missing_column": "dead_letter"}');
-- a column_map path that finds nothing is missing too
SELECT * FROM streamext.decode_message(NULL::se_uo, '{"device_id": "d1", "r": {}, "seq": 1}',
                                       'json', '{"on_missing_column": "dead_letter", "column_map": {"humidity": "$.r.h"}}');
SELECT * FROM streamext.decode_message(NULL::se_uo, '{"device_id": "d1", "r": {"h": 3}, "seq": 1}',
                                       'json', '{"on_missing_column": "dead_letter", "column_map": {"humidity": "$.r.h"}}');

-- bad values and combinations
SELECT * FROM streamext.decode_message(NULL::se_uo, '{}', 'json', '{"on_unknown_key": "drop"}');
SELECT * FROM streamext.decode_message(NULL::se_uo, '{}', 'json', '{"on_missing_column": true}');
SELECT * FROM streamext.decode_message(NULL::se_uo, '{}', 'json', '{"on_unknown_key": "dead_letter", "merge_schema": true}');
SELECT * FROM streamext.decode_message(NULL::se_uo, 'a,1', 'csv', '{"on_missing_column": "dead_letter"}');
SELECT * FROM streamext.decode_message(NULL::se_uo, 'a', 'text', '{"on_unknown_key": "ignore"}');

-- create_source checks them too (the source is never started: no broker)
SET client_min_messages = error;
\set VERBOSITY terse
SELECT streamext.create_source('se_uo1', 'localhost:1', 't', 'se_uo', options => '{"on_unknown_key": "dead-letter"}');
SELECT streamext.create_source('se_uo1', 'localhost:1', 't', 'se_uo', options => '{"on_missing_column": 1}');
SELECT streamext.create_source('se_uo1', 'localhost:1', 't', 'se_uo', options => '{"on_unknown_key": "dead_letter", "merge_schema": true}');
SELECT streamext.create_source('se_uo1', 'localhost:1', 't', 'se_uo', options => '{"on_unknown_key": "dead_letter", "on_missing_column": "ignore"}');
SELECT streamext.alter_source('se_uo1', '{"on_missing_column": "sometimes"}');
SELECT name, options FROM streamext.sources WHERE name = 'se_uo1';
SELECT streamext.drop_source('se_uo1');
RESET client_min_messages;
\set VERBOSITY default
DROP TABLE se_uo;
