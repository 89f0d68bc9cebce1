-- src/ingest/time_partition.sql: the time_partition source option — validation,
-- creating range partitions (on demand, premake) and dropping expired ones.
--
-- All bucket arithmetic is done on "timestamp without time zone" values that
-- stand for UTC: a timestamptz key is converted AT TIME ZONE 'UTC', a date key
-- to midnight.  So partitions of a timestamptz table are aligned to UTC days
-- (or hours, months) whatever the session's TimeZone.  The worker's C code
-- (time_partition.c) uses the same alignment to decide which buckets a batch
-- needs; these functions do the DDL, as the calling role (the source's owner
-- when the worker calls them), serialized per target by a table lock (_tp_lock).

-- Check a time_partition option against its target; raises a clear error.
CREATE FUNCTION streamext._check_time_partition(target regclass, tp jsonb, owner regrole)
	RETURNS void
	LANGUAGE plpgsql STABLE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	k text;
	col text;
	width interval;
	ret interval;
	typ regtype;
	pt record;
	attnum int2;
BEGIN
	IF tp IS NULL OR jsonb_typeof(tp) <> 'object' THEN
		RAISE EXCEPTION 'source option "time_partition" must be a JSON object'
			USING ERRCODE = 'invalid_parameter_value',
				HINT = 'For example {"column": "event_time", "interval": "1 day", "premake": 2, "retention": "30 days"}.';
	END IF;
	FOR k IN SELECT jsonb_object_keys(tp) LOOP
		IF k NOT IN ('column', 'interval', 'premake', 'retention') THEN
			RAISE EXCEPTION 'unknown time_partition option "%"', k
				USING ERRCODE = 'invalid_parameter_value',
					HINT = 'Known time_partition options: column, interval, premake, retention.';
		END IF;
	END LOOP;
	IF jsonb_typeof(tp -> 'column') IS DISTINCT FROM 'string' THEN
		RAISE EXCEPTION 'time_partition option "column" must be given as the name of the partition key column'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF jsonb_typeof(tp -> 'interval') IS DISTINCT FROM 'string' THEN
		RAISE EXCEPTION 'time_partition option "interval" must be given as an interval such as "1 day"'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	col := tp ->> 'column';
	BEGIN
		width := (tp ->> 'interval')::interval;
	EXCEPTION WHEN OTHERS THEN
		RAISE EXCEPTION 'time_partition option "interval" is not an interval: "%"', tp ->> 'interval'
			USING ERRCODE = 'invalid_parameter_value';
	END;
	IF NOT streamext._tp_interval_positive(width) THEN
		RAISE EXCEPTION 'time_partition option "interval" must be positive, not "%"', tp ->> 'interval'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF streamext._tp_months(width) <> 0 AND width <> make_interval(months => streamext._tp_months(width)) THEN
		RAISE EXCEPTION 'time_partition option "interval" must be whole months or have no months, not "%"', tp ->> 'interval'
			USING ERRCODE = 'invalid_parameter_value',
				HINT = 'Use for example "1 month", "3 months", "1 year", "1 day" or "6 hours".';
	END IF;
	IF tp ? 'premake' AND (jsonb_typeof(tp -> 'premake') <> 'number' OR (tp -> 'premake')::text !~ '^[0-9]+$'
		OR (tp -> 'premake')::numeric > 1000) THEN
		RAISE EXCEPTION 'time_partition option "premake" must be an integer between 0 and 1000'
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF tp ? 'retention' THEN
		BEGIN
			ret := (tp ->> 'retention')::interval;
		EXCEPTION WHEN OTHERS THEN
			RAISE EXCEPTION 'time_partition option "retention" is not an interval: "%"', tp ->> 'retention'
				USING ERRCODE = 'invalid_parameter_value';
		END;
		IF jsonb_typeof(tp -> 'retention') <> 'string' OR NOT streamext._tp_interval_positive(ret) THEN
			RAISE EXCEPTION 'time_partition option "retention" must be a positive interval such as "30 days"'
				USING ERRCODE = 'invalid_parameter_value';
		END IF;
	END IF;
	IF target IS NULL THEN
		RETURN;
	END IF;

	SELECT p.partstrat, p.partnatts, p.partattrs[0] AS key INTO pt
		FROM pg_catalog.pg_partitioned_table p WHERE p.partrelid = target;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'time_partition needs a partitioned target table, and % is not partitioned', target
			USING ERRCODE = 'wrong_object_type',
				HINT = format('Create the table with PARTITION BY RANGE (%I).', col);
	END IF;
	SELECT a.attnum, a.atttypid::regtype INTO attnum, typ FROM pg_catalog.pg_attribute a
		WHERE a.attrelid = target AND a.attname = col AND a.attnum > 0 AND NOT a.attisdropped;
	IF NOT FOUND THEN
		RAISE EXCEPTION 'time_partition column "%" does not exist in table %', col, target
			USING ERRCODE = 'undefined_column';
	END IF;
	IF typ NOT IN ('timestamptz'::regtype, 'timestamp'::regtype, 'date'::regtype) THEN
		RAISE EXCEPTION 'time_partition column "%" must be of type timestamptz, timestamp or date, not %', col, typ
			USING ERRCODE = 'datatype_mismatch';
	END IF;
	IF pt.partstrat <> 'r' OR pt.partnatts <> 1 OR pt.key <> attnum THEN
		RAISE EXCEPTION 'time_partition needs table % to be partitioned by RANGE (%), but it is partitioned by %',
			target, quote_ident(col), pg_catalog.pg_get_partkeydef(target)
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF typ = 'date'::regtype AND streamext._tp_months(width) = 0
		AND extract(epoch FROM width)::numeric % 86400 <> 0 THEN
		RAISE EXCEPTION 'time_partition option "interval" must be whole days for the date column "%"', col
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	IF owner IS NOT NULL THEN
		IF NOT pg_catalog.pg_has_role(owner, (SELECT relowner FROM pg_catalog.pg_class WHERE oid = target), 'USAGE') THEN
			RAISE EXCEPTION 'the owner of a source with time_partition must own its target table %', target
				USING ERRCODE = 'insufficient_privilege',
					DETAIL = format('The workers create and drop partitions of it as %s.', owner);
		END IF;
		IF NOT pg_catalog.has_schema_privilege(owner,
				(SELECT relnamespace FROM pg_catalog.pg_class WHERE oid = target), 'CREATE') THEN
			RAISE EXCEPTION 'the owner of a source with time_partition needs CREATE on the schema of table %', target
				USING ERRCODE = 'insufficient_privilege',
					DETAIL = format('The workers create partitions there as %s.', owner);
		END IF;
	END IF;
END
$$;

CREATE FUNCTION streamext._tp_months(width interval) RETURNS integer
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$ SELECT (extract(year FROM width) * 12 + extract(month FROM width))::integer $$;

-- No negative part and not zero.
CREATE FUNCTION streamext._tp_interval_positive(width interval) RETURNS boolean
	LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT streamext._tp_months(width) >= 0 AND extract(day FROM width) >= 0
		AND extract(epoch FROM width - make_interval(months => streamext._tp_months(width),
													 days => extract(day FROM width)::int)) >= 0
		AND width <> interval '0'
	$$;

-- Start of the bucket (partition) that holds ts: aligned to the Unix epoch, or
-- with months in width to calendar months counted from January 1970.
CREATE FUNCTION streamext._tp_floor(ts timestamp, width interval) RETURNS timestamp
	LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	m integer := streamext._tp_months(width);
	n numeric;
	us numeric;
	stride numeric;
	lo numeric;
BEGIN
	IF m > 0 THEN
		n := (extract(year FROM ts) - 1970) * 12 + extract(month FROM ts) - 1;
		RETURN timestamp '1970-01-01' + make_interval(months => (floor(n / m) * m)::integer);
	END IF;
	us := extract(epoch FROM ts) * 1000000;
	stride := extract(epoch FROM width) * 1000000;
	lo := floor(us / stride) * stride;
	RETURN timestamp '1970-01-01' + make_interval(days => floor(lo / 86400000000)::integer)
		+ (lo - floor(lo / 86400000000) * 86400000000)::bigint * interval '1 microsecond';
END
$$;

-- A partition bound as pg_get_expr prints it, as a UTC timestamp.
CREATE FUNCTION streamext._tp_bound(b text, typ regtype) RETURNS timestamp
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT CASE WHEN b = 'MINVALUE' THEN '-infinity'::timestamp
		WHEN b = 'MAXVALUE' THEN 'infinity'::timestamp
		WHEN typ = 'timestamptz'::regtype THEN btrim(b, '''')::timestamptz AT TIME ZONE 'UTC'
		WHEN typ = 'date'::regtype THEN btrim(b, '''')::date::timestamp
		ELSE btrim(b, '''')::timestamp END
	$$;

-- A UTC timestamp as a literal of the key's type, read back in this session.
CREATE FUNCTION streamext._tp_literal(ts timestamp, typ regtype) RETURNS text
	LANGUAGE sql STABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT CASE WHEN typ = 'timestamptz'::regtype THEN (ts AT TIME ZONE 'UTC')::text
		WHEN typ = 'date'::regtype THEN ts::date::text
		ELSE ts::text END
	$$;

-- The partitions of a table with their bounds (NULL for the default partition).
CREATE FUNCTION streamext._tp_partitions(target regclass, typ regtype,
										 OUT part regclass, OUT lo timestamp, OUT hi timestamp)
	RETURNS SETOF record
	LANGUAGE sql STABLE STRICT
	SET search_path = pg_catalog, pg_temp
	AS $$
	SELECT c.oid::regclass, streamext._tp_bound(m[1], typ), streamext._tp_bound(m[2], typ)
	FROM pg_catalog.pg_inherits i
	JOIN pg_catalog.pg_class c ON c.oid = i.inhrelid
	LEFT JOIN LATERAL regexp_match(pg_catalog.pg_get_expr(c.relpartbound, c.oid),
								   '^FOR VALUES FROM \((.*)\) TO \((.*)\)$') m ON true
	WHERE i.inhparent = target
	$$;

-- Serialize partition DDL of one target between workers and maintain_partitions
-- with a table lock: SHARE UPDATE EXCLUSIVE conflicts with itself, not with the
-- rows being written; ONLY, for autovacuum takes it on the partitions.  Not an
-- advisory lock: any role can take any advisory lock, so could stall another
-- role's source; this one is for the table's owner only.
CREATE FUNCTION streamext._tp_lock(target regclass) RETURNS void
	LANGUAGE plpgsql VOLATILE STRICT
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF NOT pg_catalog.pg_has_role(current_user,
			(SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = target), 'USAGE') THEN
		RAISE EXCEPTION 'must be owner of table % to lock its partition DDL', target
			USING ERRCODE = 'insufficient_privilege';
	END IF;
	EXECUTE pg_catalog.format('LOCK TABLE ONLY %s IN SHARE UPDATE EXCLUSIVE MODE', target);
END
$$;

-- rel || suffix, with rel shortened (by whole characters) so that the name fits
-- in NAMEDATALEN - 1 bytes.  Any rel takes at most 63 steps: it is first cut to
-- 63 characters, which is never shorter than what fits.
CREATE FUNCTION streamext._tp_name(rel text, suffix text) RETURNS text
	LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
	SET search_path = pg_catalog, pg_temp
	AS $$
BEGIN
	IF octet_length(suffix) > 63 THEN
		RAISE EXCEPTION 'partition name suffix "%" is longer than 63 bytes', left(suffix, 80)
			USING ERRCODE = 'name_too_long';
	END IF;
	rel := left(rel, 63);
	WHILE octet_length(rel) + octet_length(suffix) > 63 LOOP
		rel := left(rel, -1);
	END LOOP;
	RETURN rel || suffix;
END
$$;

-- Create the partitions for the buckets holding points, and `ahead` buckets
-- after each; a bucket partly covered by existing partitions gets a partition
-- for the gap only.  Buckets already expired by the retention are skipped.
-- Returns the names of the partitions created.
CREATE FUNCTION streamext._tp_ensure(target regclass, options jsonb, points timestamp[], ahead integer)
	RETURNS SETOF text
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	tp jsonb := options -> 'time_partition';
	width interval := (tp ->> 'interval')::interval;
	cutoff timestamp;
	typ regtype;
	nsp name;
	rel name;
	p timestamp;
	a timestamp;
	b timestamp;
	q timestamp;
	k integer;
	suffix text;
	pname text;
	ddl text;
	n integer;
BEGIN
	PERFORM streamext._tp_lock(target);
	SELECT a2.atttypid::regtype INTO typ FROM pg_catalog.pg_attribute a2
		WHERE a2.attrelid = target AND a2.attname = tp ->> 'column' AND NOT a2.attisdropped;
	SELECT n2.nspname, c.relname INTO nsp, rel FROM pg_catalog.pg_class c
		JOIN pg_catalog.pg_namespace n2 ON n2.oid = c.relnamespace WHERE c.oid = target;
	IF tp ? 'retention' THEN
		cutoff := (now() AT TIME ZONE 'UTC') - (tp ->> 'retention')::interval;
	END IF;
	FOREACH p IN ARRAY points LOOP
		CONTINUE WHEN p IS NULL OR NOT isfinite(p);
		FOR k IN 0 .. ahead LOOP
			a := streamext._tp_floor(p, width) + k * width;
			b := a + width;
			q := CASE WHEN k = 0 THEN p ELSE a END;
			CONTINUE WHEN b <= cutoff;
			CONTINUE WHEN EXISTS (SELECT 1 FROM streamext._tp_partitions(target, typ) x
								  WHERE x.lo <= q AND q < x.hi);
			a := greatest(a, (SELECT max(x.hi) FROM streamext._tp_partitions(target, typ) x
							  WHERE x.hi <= q AND x.hi > a));
			b := least(b, (SELECT min(x.lo) FROM streamext._tp_partitions(target, typ) x
						   WHERE x.lo > q AND x.lo < b));
			suffix := '_p' || to_char(a, 'YYYYMMDD');
			IF a <> date_trunc('day', a) OR (streamext._tp_months(width) = 0 AND width < interval '1 day') THEN
				suffix := suffix || to_char(a, '_HH24MI');
				IF a <> date_trunc('minute', a) THEN
					suffix := suffix || to_char(a, 'SS');
				END IF;
			END IF;
			pname := streamext._tp_name(rel, suffix);
			n := 1;
			WHILE to_regclass(format('%I.%I', nsp, pname)) IS NOT NULL LOOP
				n := n + 1;
				pname := streamext._tp_name(rel, suffix || '_' || n);
			END LOOP;
			ddl := format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
						  nsp, pname, target, streamext._tp_literal(a, typ), streamext._tp_literal(b, typ));
			IF k = 0 THEN
				EXECUTE ddl;
			ELSE
				-- One partition made ahead that cannot be (say, the DEFAULT partition
				-- holds rows of its range) does not keep the others from being made.
				BEGIN
					EXECUTE ddl;
				EXCEPTION WHEN OTHERS THEN
					RAISE WARNING 'cannot create partition %.% of %: %', quote_ident(nsp), quote_ident(pname), target, SQLERRM;
					CONTINUE;
				END;
			END IF;
			RETURN NEXT format('%I.%I', nsp, pname);
		END LOOP;
	END LOOP;
END
$$;

-- Which pipeline still has to read rows of a partition (NULL: none); retention
-- waits for it (time_partition.c, pipeline_relation_has_unprocessed).
CREATE FUNCTION streamext._tp_unprocessed_by(part regclass) RETURNS text
	AS 'MODULE_PATHNAME', 'streamext_tp_unprocessed_by'
	LANGUAGE C STRICT VOLATILE PARALLEL RESTRICTED;

-- Premake and retention for one source's target, as the calling role.  A
-- partition past the retention that a pipeline has not processed yet is kept
-- (action 'waiting', reason naming the pipeline) until it has.
CREATE FUNCTION streamext.maintain_partitions(source text, OUT action text, OUT partition text,
											  OUT reason text)
	RETURNS SETOF record
	LANGUAGE plpgsql VOLATILE
	SET search_path = pg_catalog, pg_temp
	AS $$
DECLARE
	target regclass;
	options jsonb;
	tp jsonb;
	typ regtype;
	nowutc timestamp := now() AT TIME ZONE 'UTC';
	newest timestamp;
	cutoff timestamp;
	reader text;
	nonempty boolean;
	created text[] := '{}';
	r record;
BEGIN
	PERFORM streamext._own_source(source);
	SELECT s.target, s.options INTO target, options FROM streamext.sources s WHERE s.name = source;
	tp := options -> 'time_partition';
	IF tp IS NULL THEN
		RAISE EXCEPTION 'source "%" has no time_partition option', source
			USING ERRCODE = 'invalid_parameter_value';
	END IF;
	PERFORM streamext._check_time_partition(target, tp, NULL);
	PERFORM streamext._tp_lock(target);
	SELECT a.atttypid::regtype INTO typ FROM pg_catalog.pg_attribute a
		WHERE a.attrelid = target AND a.attname = tp ->> 'column' AND NOT a.attisdropped;

	-- The newest data: the latest non-empty partition reaching into the future.
	FOR r IN SELECT * FROM streamext._tp_partitions(target, typ) x
			 WHERE x.hi > nowutc AND isfinite(x.lo) AND isfinite(x.hi) ORDER BY x.lo DESC LOOP
		EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s)', r.part) INTO STRICT nonempty;
		IF nonempty THEN
			newest := r.lo;
			EXIT;
		END IF;
	END LOOP;
	-- A partition that cannot be created must not keep the retention from working.
	BEGIN
		created := ARRAY(SELECT streamext._tp_ensure(target, options, ARRAY[nowutc, newest],
													 coalesce((tp ->> 'premake')::integer, 2)));
	EXCEPTION WHEN OTHERS THEN
		RAISE WARNING 'source "%": cannot create partitions of %: %', source, target, SQLERRM;
	END;
	FOREACH partition IN ARRAY created LOOP
		action := 'created';
		RETURN NEXT;
	END LOOP;

	IF tp ? 'retention' THEN
		cutoff := nowutc - (tp ->> 'retention')::interval;
		FOR r IN SELECT * FROM streamext._tp_partitions(target, typ) x
				 WHERE x.hi <= cutoff AND x.hi <= nowutc ORDER BY x.lo LOOP
			partition := r.part::text;
			reader := streamext._tp_unprocessed_by(r.part);
			IF reader IS NOT NULL THEN
				action := 'waiting';
				reason := format('retention waits for pipeline "%s", which has not read all its rows', reader);
				RETURN NEXT;
				reason := NULL;
				CONTINUE;
			END IF;
			EXECUTE format('DROP TABLE %s', r.part);
			action := 'dropped';
			RETURN NEXT;
		END LOOP;
	END IF;
END
$$;
COMMENT ON FUNCTION streamext.maintain_partitions(text)
	IS 'time_partition of a source: create the partitions premake ahead of now and of the newest data, drop those past the retention that no pipeline still has to read';
