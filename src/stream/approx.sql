-- src/stream/approx.sql: approximate aggregates with mergeable, storable
-- states: approx_count_distinct (HyperLogLog) and approx_percentile
-- (t-digest), as Spark's approx_count_distinct and percentile_approx.
-- Every aggregate has combine/serial/deserial functions (parallel plans);
-- the *_state aggregates return the state as bytea for gold tables, and
-- approx_merge() combines stored states of windows or partitions.

CREATE FUNCTION streamext.sketch_combine(internal, internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'se_sketch_combine' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION streamext.sketch_serialize(internal) RETURNS bytea
	AS 'MODULE_PATHNAME', 'se_sketch_serial' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION streamext.sketch_deserialize(bytea, internal) RETURNS internal
	AS 'MODULE_PATHNAME', 'se_sketch_deserial' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;

-- approx_count_distinct ------------------------------------------------------

CREATE FUNCTION streamext.hll_sfunc(internal, anyelement) RETURNS internal
	AS 'MODULE_PATHNAME', 'se_hll_sfunc' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION streamext.hll_sfunc(internal, anyelement, float8) RETURNS internal
	AS 'MODULE_PATHNAME', 'se_hll_sfunc' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION streamext.hll_final(internal) RETURNS bigint
	AS 'MODULE_PATHNAME', 'se_hll_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE streamext.approx_count_distinct(anyelement) (
	SFUNC = streamext.hll_sfunc, STYPE = internal, FINALFUNC = streamext.hll_final,
	COMBINEFUNC = streamext.sketch_combine, SERIALFUNC = streamext.sketch_serialize,
	DESERIALFUNC = streamext.sketch_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE streamext.approx_count_distinct(anyelement) IS
	'approximate count(DISTINCT value), HyperLogLog with 1% relative standard error';

CREATE AGGREGATE streamext.approx_count_distinct(anyelement, rel_error float8) (
	SFUNC = streamext.hll_sfunc, STYPE = internal, FINALFUNC = streamext.hll_final,
	COMBINEFUNC = streamext.sketch_combine, SERIALFUNC = streamext.sketch_serialize,
	DESERIALFUNC = streamext.sketch_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE streamext.approx_count_distinct(anyelement, float8) IS
	'approximate count(DISTINCT value), HyperLogLog with the given relative standard error';

CREATE AGGREGATE streamext.approx_count_distinct_state(anyelement) (
	SFUNC = streamext.hll_sfunc, STYPE = internal, FINALFUNC = streamext.sketch_serialize,
	COMBINEFUNC = streamext.sketch_combine, SERIALFUNC = streamext.sketch_serialize,
	DESERIALFUNC = streamext.sketch_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE streamext.approx_count_distinct_state(anyelement) IS
	'storable HyperLogLog state (bytea) of the values; see approx_merge() and approx_count_distinct_result()';

CREATE AGGREGATE streamext.approx_count_distinct_state(anyelement, rel_error float8) (
	SFUNC = streamext.hll_sfunc, STYPE = internal, FINALFUNC = streamext.sketch_serialize,
	COMBINEFUNC = streamext.sketch_combine, SERIALFUNC = streamext.sketch_serialize,
	DESERIALFUNC = streamext.sketch_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE streamext.approx_count_distinct_state(anyelement, float8) IS
	'storable HyperLogLog state (bytea) with the given relative standard error';

CREATE FUNCTION streamext.approx_count_distinct_result(state bytea) RETURNS bigint
	AS 'MODULE_PATHNAME', 'se_hll_result' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION streamext.approx_count_distinct_result(bytea) IS
	'distinct-count estimate of a stored approx_count_distinct_state()';

-- approx_percentile -----------------------------------------------------------

CREATE FUNCTION streamext.tdigest_sfunc(internal, float8, float8) RETURNS internal
	AS 'MODULE_PATHNAME', 'se_tdigest_sfunc' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION streamext.tdigest_sfunc(internal, float8, float8, integer) RETURNS internal
	AS 'MODULE_PATHNAME', 'se_tdigest_sfunc' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION streamext.tdigest_sfunc(internal, float8, float8[]) RETURNS internal
	AS 'MODULE_PATHNAME', 'se_tdigest_sfunc' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION streamext.tdigest_sfunc(internal, float8, float8[], integer) RETURNS internal
	AS 'MODULE_PATHNAME', 'se_tdigest_sfunc' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION streamext.tdigest_state_sfunc(internal, float8) RETURNS internal
	AS 'MODULE_PATHNAME', 'se_tdigest_state_sfunc' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION streamext.tdigest_state_sfunc(internal, float8, integer) RETURNS internal
	AS 'MODULE_PATHNAME', 'se_tdigest_state_sfunc' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION streamext.tdigest_final(internal) RETURNS float8
	AS 'MODULE_PATHNAME', 'se_tdigest_final' LANGUAGE C IMMUTABLE PARALLEL SAFE;
CREATE FUNCTION streamext.tdigest_final_array(internal) RETURNS float8[]
	AS 'MODULE_PATHNAME', 'se_tdigest_final_array' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE streamext.approx_percentile(value float8, fraction float8) (
	SFUNC = streamext.tdigest_sfunc, STYPE = internal, FINALFUNC = streamext.tdigest_final,
	COMBINEFUNC = streamext.sketch_combine, SERIALFUNC = streamext.sketch_serialize,
	DESERIALFUNC = streamext.sketch_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE streamext.approx_percentile(float8, float8) IS
	'approximate percentile_disc(fraction), t-digest with rank error <= 1/10000';

CREATE AGGREGATE streamext.approx_percentile(value float8, fraction float8, accuracy integer) (
	SFUNC = streamext.tdigest_sfunc, STYPE = internal, FINALFUNC = streamext.tdigest_final,
	COMBINEFUNC = streamext.sketch_combine, SERIALFUNC = streamext.sketch_serialize,
	DESERIALFUNC = streamext.sketch_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE streamext.approx_percentile(float8, float8, integer) IS
	'approximate percentile_disc(fraction), t-digest with rank error <= 1/accuracy';

CREATE AGGREGATE streamext.approx_percentile(value float8, fractions float8[]) (
	SFUNC = streamext.tdigest_sfunc, STYPE = internal, FINALFUNC = streamext.tdigest_final_array,
	COMBINEFUNC = streamext.sketch_combine, SERIALFUNC = streamext.sketch_serialize,
	DESERIALFUNC = streamext.sketch_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE streamext.approx_percentile(float8, float8[]) IS
	'approximate percentiles for several fractions at once, t-digest with rank error <= 1/10000';

CREATE AGGREGATE streamext.approx_percentile(value float8, fractions float8[], accuracy integer) (
	SFUNC = streamext.tdigest_sfunc, STYPE = internal, FINALFUNC = streamext.tdigest_final_array,
	COMBINEFUNC = streamext.sketch_combine, SERIALFUNC = streamext.sketch_serialize,
	DESERIALFUNC = streamext.sketch_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE streamext.approx_percentile(float8, float8[], integer) IS
	'approximate percentiles for several fractions at once, t-digest with rank error <= 1/accuracy';

CREATE AGGREGATE streamext.approx_percentile_state(value float8) (
	SFUNC = streamext.tdigest_state_sfunc, STYPE = internal, FINALFUNC = streamext.sketch_serialize,
	COMBINEFUNC = streamext.sketch_combine, SERIALFUNC = streamext.sketch_serialize,
	DESERIALFUNC = streamext.sketch_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE streamext.approx_percentile_state(float8) IS
	'storable t-digest state (bytea) of the values; see approx_merge() and approx_percentile_result()';

CREATE AGGREGATE streamext.approx_percentile_state(value float8, accuracy integer) (
	SFUNC = streamext.tdigest_state_sfunc, STYPE = internal, FINALFUNC = streamext.sketch_serialize,
	COMBINEFUNC = streamext.sketch_combine, SERIALFUNC = streamext.sketch_serialize,
	DESERIALFUNC = streamext.sketch_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE streamext.approx_percentile_state(float8, integer) IS
	'storable t-digest state (bytea) with rank error <= 1/accuracy';

CREATE FUNCTION streamext.approx_percentile_result(state bytea, fraction float8) RETURNS float8
	AS 'MODULE_PATHNAME', 'se_tdigest_result' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION streamext.approx_percentile_result(bytea, float8) IS
	'percentile of a stored approx_percentile_state()';
CREATE FUNCTION streamext.approx_percentile_result(state bytea, fractions float8[]) RETURNS float8[]
	AS 'MODULE_PATHNAME', 'se_tdigest_result_array' LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION streamext.approx_percentile_result(bytea, float8[]) IS
	'percentiles of a stored approx_percentile_state()';

-- merging stored states -------------------------------------------------------

CREATE FUNCTION streamext.approx_merge_sfunc(internal, bytea) RETURNS internal
	AS 'MODULE_PATHNAME', 'se_approx_merge_sfunc' LANGUAGE C IMMUTABLE PARALLEL SAFE;

CREATE AGGREGATE streamext.approx_merge(state bytea) (
	SFUNC = streamext.approx_merge_sfunc, STYPE = internal, FINALFUNC = streamext.sketch_serialize,
	COMBINEFUNC = streamext.sketch_combine, SERIALFUNC = streamext.sketch_serialize,
	DESERIALFUNC = streamext.sketch_deserialize, PARALLEL = SAFE);
COMMENT ON AGGREGATE streamext.approx_merge(bytea) IS
	'merge stored approx_*_state() values of one kind (windows, partitions) into one state';
