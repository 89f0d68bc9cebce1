/*
 * decode_json_fuzz_stubs.c
 *		Backend functions that decode_json*.c refer to but that the fuzz
 *		target's column types never reach; reaching one is a finding.
 *
 * Kept apart from decode_json_fuzz.c so that no backend header declares
 * them with their real signatures.
 */
#include <stdlib.h>

#define UNREACHABLE(f) void f(void); void f(void) { abort(); }

UNREACHABLE(DecodeDateTime)
UNREACHABLE(AllocSetContextCreateInternal)
UNREACHABLE(DirectFunctionCall1Coll)
UNREACHABLE(DirectFunctionCall3Coll)
UNREACHABLE(JsonbIteratorInit)
UNREACHABLE(JsonbIteratorNext)
UNREACHABLE(errcode)
UNREACHABLE(errfinish)
UNREACHABLE(errhint)
UNREACHABLE(errmsg)
UNREACHABLE(errstart_cold)
UNREACHABLE(errstart)
UNREACHABLE(float4in)
UNREACHABLE(int64_to_numeric)
UNREACHABLE(int64_div_fast_to_numeric)
UNREACHABLE(jsonb_in)
UNREACHABLE(pg_encoding_mbcliplen)
UNREACHABLE(numeric_in)

