/**
 * Golden table: filter strings (valid and invalid, mostly the cases of Milvus's
 * plan_parser_v2_test.go re-targeted at the fixture schema) with the expected plan shape or the
 * expected error. Format: `filter<TAB>expected`, where expected is the explainPlan() S-expression
 * or `ERR <substring of the message>`; `#` lines are section comments.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { isDbError } from '../common/errors.js'
import { fixtureSchema } from './fixture-schema.js'
import { explainPlan, parseFilter } from './index.js'

const TEMPLATES = {
  x: 5n,
  list: [1, 2, 3],
  lo: 1,
  hi: 100,
  str: 'hello',
  flt: 2.5,
  bool: true,
  big: 9007199254740993n,
  p: 'ab%',
}

const GOLDEN = String.raw`
# literals & integers
i64 > 5	(> i64 5)
i64 > 0x1F	(> i64 31)
i64 > 0X1f	(> i64 31)
i64 > 017	(> i64 15)
i64 > 0b101	(> i64 5)
i64 > 0B11	(> i64 3)
i64 > 0	(> i64 0)
i64 > 00	(> i64 0)
i64 == 9223372036854775807	(== i64 9223372036854775807)
i64 == -9223372036854775808	(== i64 -9223372036854775808)
i64 == 9223372036854775808	ERR integer 9223372036854775808 overflows int64
i64 == -9223372036854775809	ERR overflows int64
i64 == 08	ERR unexpected number 8
i64 == 1_000	ERR unexpected identifier "_000"
i64 > 0o17	ERR unexpected identifier "o17"
f64 > 1.5	(> f64 1.5)
f64 > .5	(> f64 0.5)
f64 > 1.	(> f64 1.0)
f64 > 1e3	(> f64 1000.0)
f64 > 1E-3	(> f64 0.001)
f64 > 2.5e+2	(> f64 250.0)
f64 > 0x1.8p1	(> f64 3.0)
f64 > 1e400	ERR floating-point literal 1e400 is out of range
f64 > 5	(> f64 5.0)
f32 == 2	(== f32 2.0)
b == true	(== b true)
b == True	(== b true)
b == TRUE	(== b true)
b == false	(== b false)
b == False	(== b false)
b == FALSE	(== b false)
b == tRUE	ERR comparing a JSON field with another field is not supported
b != false	(!= b false)
s == "abc"	(== s "abc")
s == 'abc'	(== s "abc")
s == "it's"	(== s "it's")
s == 'say "hi"'	(== s "say \"hi\"")
s == "a\"b"	(== s "a\"b")
s == 'a\'b'	(== s "a'b")
s == "\'"	(== s "'")
s == "tab\there"	(== s "tab\there")
s == "nl\n"	(== s "nl\n")
s == "\x41\101"	(== s "AA")
s == "\u4e2d"	(== s "中")
s == "\U0001F600"	(== s "😀")
s == "中国"	(== s "中国")
s == "\\"	(== s "\\")
s == "\q"	ERR invalid escape sequence "\\q"
s == "\423"	ERR invalid octal escape
s == "\12"	ERR invalid octal escape
s == "abc	ERR unterminated string literal
s == ""	(== s "")
# dynamic fields, $meta, JSON paths
color == "red"	(== $meta["color"] "red")
$meta["color"] == "red"	(== $meta["color"] "red")
$meta["a"]["b"] > 1	(> $meta["a"]["b"] 1)
$meta[0] > 100	(> $meta["0"] 100)
A["B"][0] > 100	(> $meta["A"]["B"]["0"] 100)
C[0] in [90, 91]	(in $meta["C"]["0"] [90, 91])
meta["a"] == 1	(== meta["a"] 1)
meta['a'] == 1	(== meta["a"] 1)
meta["a"]["b"]["c"] < 2.5	(< meta["a"]["b"]["c"] 2.5)
meta["姓名"] == "小明"	(== meta["姓名"] "小明")
meta["a"] == true	(== meta["a"] true)
meta["a"] == [1, 2, 3]	(== meta["a"] [1, 2, 3])
meta["a"] == "x"	(== meta["a"] "x")
meta > 1	(> meta 1)
meta == 0	(== meta 0)
meta["a"] > "m"	(> meta["a"] "m")
meta[""] > 1	ERR empty key in JSON path
meta["a"] ["b"] > 1	ERR unexpected "["
meta[ "a"] > 1	ERR unexpected "["
meta[a] > 1	ERR unexpected "["
meta[] > 1	ERR unexpected "["
meta[-1] > 1	ERR unexpected "["
$meta > 1	(> $meta 1)
$metax > 1	ERR unexpected character "$"
$foo > 1	ERR unexpected character "$"
i64["a"] > 1	ERR Int64 field "i64" cannot be accessed with []
s[0] == "a"	ERR VarChar field "s" cannot be accessed with []
arr_i64["0"] == 1	ERR Array field "arr_i64" can only be indexed with an integer
arr_i64[0][1] == 1	ERR Array field "arr_i64" can only be indexed once
arr_i64[0] == 1	(== arr_i64[0] 1)
arr_s[1] == "x"	(== arr_s[1] "x")
arr_i64[0] == "x"	ERR cannot compare element "arr_i64[0]" of Array<Int64> field "arr_i64" with string "x"
arr_i64[0] == 1.5	ERR integer fields only take integer constants
arr_f[0] == 1	(== arr_f[0] 1.0)
vec == 1	ERR vector field "vec" cannot be used in a filter
vec is null	ERR vector field "vec" cannot be used in a filter
# comparisons
i64 != 5	(!= i64 5)
i64 < 5	(< i64 5)
i64 <= 5	(<= i64 5)
i64 >= 5	(>= i64 5)
5 < i64	(> i64 5)
5 <= i64	(>= i64 5)
5 > i64	(< i64 5)
5 == i64	(== i64 5)
5 != i64	(!= i64 5)
i8 < 0	(< i8 0)
i8 > 1000	(> i8 1000)
i8 == -1000	(== i8 -1000)
i16 <= 1	(<= i16 1)
i32 > 2	(> i32 2)
f32 == 4.0	(== f32 4.0)
f64 != 5.0	(!= f64 5.0)
s > "str6"	(> s "str6")
s <= "str7"	(<= s "str7")
i64 == 1.5	ERR cannot compare Int64 field "i64" with floating-point value 1.5 (integer fields only take integer constants)
i64 >= 2.1	ERR integer fields only take integer constants
i32 == 2.0	ERR integer fields only take integer constants
i64 == "x"	ERR cannot compare Int64 field "i64" with string "x"
s > 3	ERR cannot compare VarChar field "s" with integer 3
s == true	ERR cannot compare VarChar field "s" with boolean true
b == 1	ERR cannot compare Bool field "b" with integer 1
b > true	(> b true)
f64 == "1"	ERR cannot compare Double field "f64" with string "1"
i64 == [1, 2]	ERR cannot compare Int64 field "i64" with list [1, 2]
i64 > [1, 2]	ERR cannot compare Int64 field "i64" with list [1, 2]
i8 < i16	(< i8 i16)
i16 <= i32	(<= i16 i32)
i32 > i64	(> i32 i64)
i64 >= f32	(>= i64 f32)
f32 == f64	(== f32 f64)
s != n_s	(!= s n_s)
b == n_b	(== b n_b)
s == i64	ERR cannot compare VarChar field "s" with Int64 field "i64"
f32 == s	ERR cannot compare Float field "f32" with VarChar field "s"
b == i64	ERR cannot compare Bool field "b" with Int64 field "i64"
meta["a"] > i16	ERR comparing a JSON field with another field is not supported
i16 > color	ERR comparing a JSON field with another field is not supported
arr_i64 == arr_i32	ERR cannot be applied to the whole Array field "arr_i64"
arr_i64[0] < i64	ERR comparing an array element with another field is not supported
"str" < 100	ERR cannot compare string "str" with integer 100
true == "str"	ERR cannot compare boolean true with string "str"
"str" != false	ERR cannot compare string "str" with boolean false
true <= "str"	ERR cannot compare boolean true with string "str"
1 == 1	true
1 == 2	false
1 == 1.0	true
"a" < "b"	true
true == true	true
true != false	true
1 != 2.0	true
[1,2,3] == [4,5,6]	ERR cannot compare list [1, 2, 3] with list [4, 5, 6]
[1,2,3] == 1	ERR cannot compare list [1, 2, 3] with integer 1
true < false	ERR cannot compare boolean true with boolean false
2 = i64	ERR unexpected "="
i64 = 2	ERR unexpected "="
i64 > > 3	ERR unexpected ">" at column 7
i64 >	ERR unexpected end of expression
> 3	ERR unexpected ">" at column 1
i64 === 3	ERR unexpected "="
i64 <> 3	ERR unexpected ">"
# ranges
1 < i8 < 2	(range 1 < i8 < 2)
1 < i8 < 3	(range 1 < i8 < 3)
3 <= i16 < 4	(range 3 <= i16 < 4)
5 <= i32 <= 6	(range 5 <= i32 <= 6)
7 < i64 <= 8	(range 7 < i64 <= 8)
9.0 < f32 < 10.0	(range 9.0 < f32 < 10.0)
17 < f64 < 18	(range 17.0 < f64 < 18.0)
"str13" < s < "str14"	(range "str13" < s < "str14")
'abc' < s < "def"	(range "abc" < s < "def")
10 < A < 25	(range 10 < $meta["A"] < 25)
1 < meta < 3	(range 1 < meta < 3)
0 <= $meta["A"] < 5	(range 0 <= $meta["A"] < 5)
10 < C["0"] < 90	(range 10 < $meta["C"]["0"] < 90)
0 < arr_i64[0] < 100	(range 0 < arr_i64[0] < 100)
"abc" < arr_s[0] < "efg"	(range "abc" < arr_s[0] < "efg")
2 > i8 > 0	(range 0 < i8 < 2)
4 >= i16 >= 3	(range 3 <= i16 <= 4)
8 >= i64 > 7	(range 7 < i64 <= 8)
10 > i64 >= 1	(range 1 <= i64 < 10)
"z" > s > "a"	(range "a" < s < "z")
100 > B > 14	(range 14 < $meta["B"] < 100)
1 <= i64 <= 1	(range 1 <= i64 <= 1)
1 < i64 <= 1	ERR invalid range
2 <= i64 <= 1	ERR invalid range
1 < i64 > 0	ERR cannot compare a boolean expression with a constant
1 < i64 < 5 < 6	ERR cannot compare a boolean expression with a constant
1 < 3 < 2	ERR cannot compare boolean true with integer 2
1.0 < i32 < 2.0	ERR integer fields only take integer constants
1 < s < 2	ERR the lower bound integer 1 does not match VarChar field "s"
true < b < false	ERR range comparisons are not supported on Bool field "b"
1 < arr_i64 < 3	ERR a range comparison cannot be applied to the whole Array field "arr_i64"
1 < (i64) < 5	ERR cannot compare a boolean expression with a constant
i32 < i64 < i16	ERR the lower bound of a range must be a constant
1 < i32 < i16	ERR the upper bound of a range must be a constant
1 < i64 + 1 < 5	ERR cannot compare a boolean expression with a constant
1 + 1 < i64 < 2 * 3	(range 2 < i64 < 6)
"abc" < arr_i64[0] < "def"	ERR the lower bound string "abc" does not match element "arr_i64[0]"
1 < yeer < 5	(range 1 < $meta["yeer"] < 5)
1 < $meta < 5	ERR cannot compare a boolean expression with a constant
# in / not in
b in [true, false]	(in b [true, false])
i8 in [1, 2]	(in i8 [1, 2])
i64 in [7, 8]	(in i64 [7, 8])
f32 in [9.0, 10.0]	(in f32 [9.0, 10.0])
f32 in [1373, 115]	(in f32 [1373.0, 115.0])
s in ["a", "b"]	(in s ["a", "b"])
i64 in [17]	(in i64 [17])
i64 in []	(in i64 [])
i64 in [ ]	(in i64 [])
i64 not in []	(not (in i64 []))
i64 not in [1, 2]	(not (in i64 [1, 2]))
i64 NOT IN [1, 2]	(not (in i64 [1, 2]))
i64 IN [1, 2,]	(in i64 [1, 2])
i64 in [1, 2,,]	ERR unexpected ","
i64 in [,]	ERR unexpected ","
meta["A"] in [1, 10]	(in meta["A"] [1, 10])
$meta["A"] in []	(in $meta["A"] [])
A in ["1", 2, "abc", 2.2]	(in $meta["A"] ["1", 2, "abc", 2.2])
arr_i64[0] in [1, 2, 3]	(in arr_i64[0] [1, 2, 3])
arr_i64[0] in [1, "abc", 3.3]	ERR list value string "abc" does not match element "arr_i64[0]"
arr_i64 in []	(in arr_i64 [])
arr_i64 in [[1, 2], [3]]	(in arr_i64 [[1, 2], [3]])
arr_i64 in [1, 2, 3]	ERR can only be compared with a non-empty list of Int64 values
1 in [1, 2, 3]	ERR "in" needs a field on its left, not integer 1
(i8 + 8) in [1, 2, 3]	ERR "in" can only be applied to a single field
i8 in [(true + 1)]	ERR "+" needs numbers
i8 in [i16]	ERR list elements must be constants
b in [4.0]	ERR list value floating-point value 4.0 does not match Bool field "b"
s in [4.0]	ERR list value floating-point value 4.0 does not match VarChar field "s"
i32 in [4.0]	ERR integer fields only take integer constants
f32 in [5, 6.0, true]	ERR list value boolean true does not match Float field "f32"
1 in A	ERR "in" needs a field on its left
i64 in 5	ERR the right-hand side of "in" must be a list
i64 in i32	ERR the right-hand side of "in" must be a constant list
i64 in [1, [2]]	ERR list value list [2] does not match Int64 field "i64"
i64 not_in [1]	ERR unexpected identifier "not_in"
i64 not [1]	ERR unexpected "not"
# like
s like "prefix%"	(like s prefix "prefix")
s LIKE "prefix%"	(like s prefix "prefix")
s like "equal"	(like s equal "equal")
s like "%suf"	(like s suffix "suf")
s like "%in%"	(like s infix "in")
s like "%"	(like s prefix "")
s like "%%"	(like s prefix "")
s like ""	(like s equal "")
s like "a_c"	(like s pattern "a_c")
s like "a%b%c"	(like s pattern "a%b%c")
s like "8\\_0%"	(like s prefix "8_0")
s like '8\%0'	(like s equal "8%0")
s like '8\_\%0'	(like s equal "8_%0")
s like "8\\%-0%"	(like s prefix "8%-0")
s like "a.b%"	(like s prefix "a.b")
s like "a.b_"	(like s pattern "a.b_")
meta["A"] like "name*"	(like meta["A"] equal "name*")
$meta["A"] like "x%"	(like $meta["A"] prefix "x")
arr_s[0] like "abd%"	(like arr_s[0] prefix "abd")
arr_s like "abd%"	ERR like cannot be applied to the whole Array field "arr_s"
arr_i64[0] like "1%"	ERR like can only be applied to VarChar or JSON fields, not element "arr_i64[0]"
f32 like "prefix%"	ERR like can only be applied to VarChar or JSON fields, not Float field "f32"
i64 like "1%"	ERR like can only be applied to VarChar or JSON fields
(s % 2) like "prefix%"	ERR "%" cannot be applied to VarChar field "s"
s like 5	ERR LIKE needs a quoted pattern
s like s	ERR LIKE needs a quoted pattern
s Like "x"	ERR unexpected identifier "Like" (keywords must be all lower-case or all upper-case
s like {p}	(like s prefix "ab")
not s like "a%"	(not (like s prefix "a"))
# arithmetic
i64 % 10 == 9	(== (% i64 10) 9)
i64 % 10 != 9	(!= (% i64 10) 9)
i64 % 2 == 0	(== (% i64 2) 0)
i8 + 1 < 2	(< (+ i8 1) 2)
i16 - 3 <= 4	(<= (- i16 3) 4)
i32 * 5 > 6	(> (* i32 5) 6)
i64 / 7 >= 8	(>= (/ i64 7) 8)
f32 + 11 < 12	(< (+ f32 11.0) 12.0)
f64 - 13 <= 14	(<= (- f64 13.0) 14.0)
f32 + 1.1 == 2.1	(== (+ f32 1.1) 2.1)
A * 15 > 16	(> (* $meta["A"] 15) 16)
A + 1.2 == 3.3	(== (+ $meta["A"] 1.2) 3.3)
A + 1 == 2	(== (+ $meta["A"] 1) 2)
A % 10 != 2	(!= (% $meta["A"] 10) 2)
meta['A'] / 17 >= 18	(>= (/ meta["A"] 17) 18)
arr_i64[0] % 19 >= 20	(>= (% arr_i64[0] 19) 20)
arr_i64[0] + 3 == 1	(== (+ arr_i64[0] 3) 1)
meta + 15 == 16	(== (+ meta 15) 16)
15 + meta == 16	(== (+ meta 15) 16)
1 + f32 > 100	(> (+ f32 1.0) 100.0)
2 * i64 == 8	(== (* i64 2) 8)
i64 + (2 ** 3) > 0	(> (+ i64 8) 0)
i64 * (10 ** 2) < 1000	(< (* i64 100) 1000)
i64 + (1 + 2) == 5	(== (+ i64 3) 5)
i64 > (1 + 2)	(> i64 3)
i64 < (10 - 5)	(< i64 5)
i64 == (1 + 2 + 3)	(== i64 6)
i64 > 2 * 3 + 4	(> i64 10)
i64 < 10 - 2 * 3	(< i64 4)
i64 == 10 % 3	(== i64 1)
i64 == 7 / 2	(== i64 3)
i64 == -7 / 2	(== i64 -3)
i64 == -7 % 3	(== i64 -1)
f64 > 1.0 + 2.0	(> f64 3.0)
f64 < 10.0 / 4	(< f64 2.5)
100 - 5 < $meta["A"]	(> $meta["A"] 95)
100 == $meta["A"] + 6	(== (+ $meta["A"] 6) 100)
$meta["A"] > 10 + 5	(> $meta["A"] 15)
i64 + 1.1 == 2.1	ERR cannot apply "+" to Int64 field "i64" and floating-point value 1.1
i64 + (2 ** -1) > 0	ERR integer fields take integer constants
i64 / 0 == 1	ERR division or modulo by zero
i64 % 0 == 1	ERR division or modulo by zero
f64 / 0 == 1	ERR division or modulo by zero
f32 % 2 == 1	ERR modulo (%) can only be applied to integer fields and integer constants
i64 % 2.0 == 1	ERR integer fields take integer constants
A % 2.5 == 1	ERR modulo (%) can only be applied to integer fields and integer constants
2 - i64 == 1	ERR "-" with the constant on the left is not supported
2 / i64 == 1	ERR "/" with the constant on the left is not supported
2 % i64 == 1	ERR "%" with the constant on the left is not supported
2 % meta == 1	ERR "%" with the constant on the left is not supported
i64 + i32 == 3	ERR arithmetic between two fields is not supported
A + B == 3.3	ERR arithmetic between two fields is not supported
(i64 + 1) + 2 == 5	ERR only one arithmetic operation on a field is supported
i64 + 1 == i32	ERR arithmetic on Int64 field "i64" can only be compared with a constant
i64 + 1 == 2.5	ERR integer arithmetic on Int64 field "i64" cannot be compared with floating-point value 2.5
i64 + 1 == "a"	ERR arithmetic on Int64 field "i64" can only be compared with a number
s + 1 == 2	ERR "+" cannot be applied to VarChar field "s"
s - 2	ERR "-" cannot be applied to VarChar field "s"
2 + s == 1	ERR "+" cannot be applied to VarChar field "s"
b + 1 == 1	ERR "+" cannot be applied to Bool field "b"
arr_i64 + 15 == 16	ERR "+" cannot be applied to the whole Array field "arr_i64"
15 + arr_i64 == 16	ERR "+" cannot be applied to the whole Array field "arr_i64"
arr_i64 % 3 == 1	ERR "%" cannot be applied to the whole Array field "arr_i64"
i64 + [1, 2] == 10	ERR "+" needs a number, not list [1, 2]
i64 % [1, 2] == 10	ERR "%" needs a number, not list [1, 2]
i64 + 1	ERR the filter must be a boolean expression, not arithmetic on Int64 field "i64"
1 + 2	ERR the filter must be a boolean expression, not a bare integer 3
true + false	ERR "+" needs numbers, not boolean true and boolean false
"str" + "text"	ERR "+" needs numbers
true + "str"	ERR "+" needs numbers
1.0 % 2	ERR modulo (%) can only be applied to integers
2 / 0	ERR division by zero
2 % 0	ERR modulo by zero
2.0 / 0.0	ERR division by zero
i64 == 9223372036854775807 + 1	(== i64 -9223372036854775808)
i8 * 1000000 == 5	(== (* i8 1000000) 5)
# power and bitwise
2 ** 3 == 8	true
3 ** 2 == 9	true
10 ** 0 == 1	true
2.0 ** 3.0 == 8.0	true
4.0 ** 0.5 > 1.0	true
2 ** -1 == 0.5	true
2 ** 3 ** 2 == 64	true
-2 ** 2 == -4	true
i64 ** 2 == 100	ERR power (**) can only be applied to constants
2 ** i64 == 8	ERR power (**) can only be applied to constants
1 ** 2	ERR the filter must be a boolean expression, not a bare integer 1
1 ^ 2	ERR bitwise operator "^" is not supported
1 & 2	ERR bitwise operator "&" is not supported
1 | 2	ERR bitwise operator "|" is not supported
1 << 2	ERR bitwise operator "<<" is not supported
i64 >> 2	ERR bitwise operator ">>" is not supported
i64 & 0xFF == 1	ERR bitwise operator "&" is not supported
~i64 == 1	ERR bitwise not (~) is not supported
# unary
i64 > -1	(> i64 -1)
i64 < -(-5)	(< i64 5)
i64 > +5	(> i64 5)
f64 > -1.5	(> f64 -1.5)
+arr_i64[0] == 1	(== arr_i64[0] 1)
+arr_i64 == 1	ERR unary "+" cannot be applied to the whole Array field "arr_i64"
-i32 == 1	ERR unary "-" can only be applied to constants, not Int32 field "i32"
-true	ERR unary "-" needs a number, not boolean true
!"str"	ERR "not" can only be applied to a boolean expression, not string "str"
!(not_in_schema)	ERR "not" can only be applied to a boolean expression, not dynamic field key "not_in_schema"
!(i32)	ERR "not" can only be applied to a boolean expression, not Int32 field "i32"
!b	ERR "not" can only be applied to a boolean expression, not Bool field "b"
-(-9223372036854775808) == i64	(== i64 -9223372036854775808)
# logic
i64 > 0 and s > "0"	(and (> i64 0) (> s "0"))
i64 > 0 AND s > "0"	(and (> i64 0) (> s "0"))
i64 > 0 && s > "0"	(and (> i64 0) (> s "0"))
i64 > 0 or s > "0"	(or (> i64 0) (> s "0"))
i64 > 0 OR s > "0"	(or (> i64 0) (> s "0"))
i64 > 0 || s > "0"	(or (> i64 0) (> s "0"))
i64 > 0 And s > "0"	ERR unexpected identifier "And" (keywords must be all lower-case or all upper-case: "and" or "AND")
i64 > 0 Or s > "0"	ERR unexpected identifier "Or"
i64 > 0 and i64 < 9 and s == "x"	(and (> i64 0) (< i64 9) (== s "x"))
i64 > 0 or i64 < 9 and s == "x"	(or (> i64 0) (and (< i64 9) (== s "x")))
(i64 > 0 or i64 < 9) and s == "x"	(and (or (> i64 0) (< i64 9)) (== s "x"))
a > 50 or b2 < 40	(or (> $meta["a"] 50) (< $meta["b2"] 40))
not (i64 > 0)	(not (> i64 0))
NOT (i64 > 0)	(not (> i64 0))
!(i64 > 0)	(not (> i64 0))
not not (i64 > 0)	(not (not (> i64 0)))
Not (i64 > 0)	ERR unknown function "Not" (keywords must be all lower-case or all upper-case
not i64 > 0	ERR "not" can only be applied to a boolean expression, not Int64 field "i64"; "not" binds tighter than comparisons, so write not (a > 1)
not i64 in [1, 2]	ERR "not" can only be applied to a boolean expression
not (i64 in [1, 2])	(not (in i64 [1, 2]))
not (i8 + 1 == 2)	(not (== (+ i8 1) 2))
(i16 - 3 == 4) and (i32 * 5 != 6)	(and (== (- i16 3) 4) (!= (* i32 5) 6))
not exists meta["a"]	(not (exists meta["a"]))
not json_contains(A, 10)	(not (contains $meta["A"] 10))
not (not_in_schema == 1) and i64 > 0	(and (not (== $meta["not_in_schema"] 1)) (> i64 0))
true and false	false
true and true	true
true or false	true
false or false	false
!true	false
!false	true
not (1 == 1)	false
(1 == 1)	true
true	ERR the filter must be a boolean expression, not a bare boolean true
false	ERR the filter must be a boolean expression, not a bare boolean false
True	ERR the filter must be a boolean expression
(true)	ERR the filter must be a boolean expression
i64 > 100 and b	ERR "and" can only combine boolean expressions, not Bool field "b"
i64 < 100 or false	ERR "or" cannot mix a constant (boolean false) with other expressions
(1 == 1) and i64 > 0	ERR "and" cannot mix a constant (boolean true) with other expressions
not_in_schema or true	ERR "or" can only combine boolean expressions, not dynamic field key "not_in_schema"
"str" or false	ERR "or" can only combine boolean expressions, not string "str"
b or false	ERR "or" can only combine boolean expressions, not Bool field "b"
i32 or i64	ERR "or" can only combine boolean expressions, not Int32 field "i32"
i32 and i64	ERR "and" can only combine boolean expressions, not Int32 field "i32"
1 and 2	ERR "and" can only combine boolean expressions, not integer 1
i64 > 0 and	ERR unexpected end of expression
and i64 > 0	ERR unexpected "and"
i64 > 0 and and i64 < 1	ERR unexpected "and"
((i64 > 0))	(> i64 0)
(i64 > 0	ERR expected ")" to close the parenthesis
i64 > 0)	ERR unexpected ")"
()	ERR unexpected ")"
# exists / null
exists $meta["A"]	(exists $meta["A"])
exists A	(exists $meta["A"])
EXISTS meta["a"]	(exists meta["a"])
exists $meta["A"]["B"]["C"] 	(exists $meta["A"]["B"]["C"])
exists $meta["A"] || exists meta["A"]	(or (exists $meta["A"]) (exists meta["A"]))
exists $meta["A"] && exists meta["A"]	(and (exists $meta["A"]) (exists meta["A"]))
exists (A)	(exists $meta["A"])
exists $meta	ERR exists needs a JSON key, like exists $meta["key"]
exists meta	ERR exists needs a JSON key, like exists meta["key"]
exists arr_i64	ERR exists can only be applied to JSON fields, not Array<Int64> field "arr_i64"
exists i64	ERR exists can only be applied to JSON fields, not Int64 field "i64"
exists $meta["A"] > 10	ERR cannot compare a boolean expression with a constant
exists 1	ERR exists needs a JSON key
Exists meta["a"]	ERR unexpected identifier "meta["a"]"
n_i64 is null	(is_null n_i64)
n_i64 IS NULL	(is_null n_i64)
n_i64 is not null	(is_not_null n_i64)
n_i64 IS NOT NULL	(is_not_null n_i64)
s is null	(is_null s)
meta is null	(is_null meta)
meta["a"] is null	(not (exists meta["a"]))
meta["a"] is not null	(exists meta["a"])
dyn_field is null	(not (exists $meta["dyn_field"]))
dyn_field is not null	(exists $meta["dyn_field"])
not (n_i64 is null)	(not (is_null n_i64))
n_i64 is null and i64 > 1	(and (is_null n_i64) (> i64 1))
n_i64 Is Null	ERR unexpected identifier "Is"
n_i64 is  null	ERR unexpected identifier "is"
n_i64 IS null	ERR unexpected identifier "IS"
n_i64 is NULL	ERR unexpected identifier "is"
arr_i64[0] is null	ERR "is null" can only test a whole field or a JSON path
(n_i64) is null	ERR unexpected "is null"
# json_contains / array_contains / array_length
json_contains(A, 10)	(contains $meta["A"] 10)
json_contains(A, 10.5)	(contains $meta["A"] 10.5)
json_contains(A, "10")	(contains $meta["A"] "10")
json_contains($meta["A"], 10)	(contains $meta["A"] 10)
json_contains(meta["x"], 5)	(contains meta["x"] 5)
JSON_CONTAINS(meta["x"], 5)	(contains meta["x"] 5)
json_contains(meta, 5)	(contains meta 5)
json_contains($meta, 1)	(contains $meta 1)
json_contains(A, [1,2,3])	(contains $meta["A"] [1, 2, 3])
array_contains(A, [1,2,3])	(contains $meta["A"] [1, 2, 3])
array_contains(arr_i64, 1)	(contains arr_i64 1)
ARRAY_CONTAINS(arr_i64, 1)	(contains arr_i64 1)
array_contains(arr_s, "abc")	(contains arr_s "abc")
array_contains(arr_f, 1)	(contains arr_f 1.0)
array_contains(arr_b, true)	(contains arr_b true)
json_Contains(meta, 5)	ERR unknown function "json_Contains" (keywords must be all lower-case or all upper-case: "json_contains" or "JSON_CONTAINS")
Json_contains(meta, 5)	ERR unknown function "Json_contains"
json_contains(10, A)	ERR json_contains needs a JSON or Array field as its first argument, not integer 10
json_contains([1,2,3], 1)	ERR json_contains needs a JSON or Array field as its first argument, not list [1, 2, 3]
json_contains(A, B)	ERR json_contains needs a constant as its second argument, not dynamic field key "B"
json_contains(A, B > 5)	ERR json_contains needs a constant as its second argument, not a boolean expression
json_contains(s, "a")	ERR json_contains can only be applied to JSON or whole Array fields, not VarChar field "s"
json_contains(A)	ERR expected "," between the arguments of json_contains
json_contains(A, 5, C)	ERR expected ")" to close json_contains(
json_contains(arr_i64, "abc")	ERR json_contains: Array<Int64> field "arr_i64" cannot contain string "abc"
json_contains(arr_i64, [1,2])	ERR json_contains: Array<Int64> field "arr_i64" cannot contain list [1, 2]
array_contains(arr_i64, "a")	ERR array_contains: Array<Int64> field "arr_i64" cannot contain string "a"
array_contains(arr_s, 1)	ERR array_contains: Array<VarChar> field "arr_s" cannot contain integer 1
array_contains(arr_i64, 1.5)	ERR integer fields only take integer constants
array_contains(arr_i64[0], 1)	ERR array_contains can only be applied to JSON or whole Array fields, not element "arr_i64[0]"
json_contains_all(A, [1,2,3])	(contains_all $meta["A"] [1, 2, 3])
json_contains_all(A, [1,"2",3.0])	(contains_all $meta["A"] [1, "2", 3.0])
JSON_CONTAINS_ALL(A, [1,"2",3.0])	(contains_all $meta["A"] [1, "2", 3.0])
array_contains_all(arr_i64, [1,2,3])	(contains_all arr_i64 [1, 2, 3])
array_contains_all(arr_i64, [1])	(contains_all arr_i64 [1])
array_contains_all(arr_s, ["a", "b"])	(contains_all arr_s ["a", "b"])
json_contains_any(A, [1,2,3])	(contains_any $meta["A"] [1, 2, 3])
JSON_CONTAINS_ANY(arr_i64, [1,2,3])	(contains_any arr_i64 [1, 2, 3])
array_contains_any(arr_s, ["a", "b"])	(contains_any arr_s ["a", "b"])
array_contains_any(arr_i64, [])	(contains_any arr_i64 [])
JSON_CONTAINS_ALL(A, 1)	ERR json_contains_all needs a list as its second argument
JSON_CONTAINS_ANY(A, 1)	ERR json_contains_any needs a list as its second argument
JSON_CONTAINS_ALL(A, [abc])	ERR list elements must be constants
JSON_CONTAINS_ALL(A, [2>a])	ERR list elements must be constants
JSON_CONTAINS_ALL(A[""], [1,2,3])	ERR empty key in JSON path
JSON_CONTAINS_ALL(i64, [1,2,3])	ERR json_contains_all can only be applied to JSON or whole Array fields, not Int64 field "i64"
JSON_CONTAINS_ALL(arr_i64, [[1,2,3]])	ERR json_contains_all: Array<Int64> field "arr_i64" cannot contain list [1, 2, 3]
array_contains_all(arr_s, ["abc", 123])	ERR array_contains_all: Array<VarChar> field "arr_s" cannot contain integer 123
array_contains_any(arr_s, ["abc", 123])	ERR array_contains_any: Array<VarChar> field "arr_s" cannot contain integer 123
array_length(arr_i64) == 10	(== (array_length arr_i64) 10)
array_length(A) != 10	(!= (array_length $meta["A"]) 10)
array_length(arr_s) < 1	(< (array_length arr_s) 1)
ARRAY_LENGTH(arr_s) >= 5	(>= (array_length arr_s) 5)
not (array_length(C[0]) == 1)	(not (== (array_length $meta["C"]["0"]) 1))
not (array_length(C["D"]) != 1)	(not (!= (array_length $meta["C"]["D"]) 1))
array_length(meta["a"]) > 2	(> (array_length meta["a"]) 2)
3 == array_length(arr_i64)	(== (array_length arr_i64) 3)
array_length(a > b) == 0	ERR expected ")" to close array_length(
array_length(a, b) == 1	ERR expected ")" to close array_length(
array_length(A)	ERR the filter must be a boolean expression, not array_length(A)
array_length("A") / 10 == 2	ERR array_length takes a field name or JSON path
array_length(i64) == 2	ERR array_length can only be applied to JSON or whole Array fields, not Int64 field "i64"
array_length(arr_i64[0]) == 2	ERR array_length can only be applied to JSON or whole Array fields
0 < array_length(arr_s) < 1	ERR cannot compare a boolean expression with a constant
array_length(A) % 10 == 2	ERR "%" cannot be applied to array_length(A)
array_length(A) + 1 == 2	ERR "+" cannot be applied to array_length(A)
array_length(A) == 2.2	ERR array_length(A) can only be compared with an integer, not floating-point value 2.2
array_length(A) == i64	ERR array_length(A) can only be compared with a constant
array_length(A) in [1, 2]	ERR "in" can only be applied to a single field
# whole-array comparisons
arr_i64 == [1,2,3,4]	(== arr_i64 [1, 2, 3, 4])
arr_i64 != [1,2]	(!= arr_i64 [1, 2])
arr_s == ["a"]	(== arr_s ["a"])
arr_i64 == ["abc", "def"]	ERR elements of Array<Int64> field "arr_i64" cannot be compared with string "abc"
arr_i64 == []	ERR can only be compared with a non-empty list of Int64 values
arr_i64 == [1, 2.0]	ERR can only be compared with a non-empty list
arr_i64 == 1	ERR can only be compared with a non-empty list of Int64 values, not integer 1
arr_i64 > 1	ERR ">" cannot be applied to the whole Array field "arr_i64"
100 > arr_i64 > 0	ERR a range comparison cannot be applied to the whole Array field
# templates
i64 > {x}	(> i64 5)
{x} < i64	(> i64 5)
i64 in {list}	(in i64 [1, 2, 3])
i64 not in {list}	(not (in i64 [1, 2, 3]))
{lo} < i64 < {hi}	(range 1 < i64 < 100)
{ x } < i64	(> i64 5)
s == {str}	(== s "hello")
f64 > {flt}	(> f64 2.5)
b == {bool}	(== b true)
i64 > {big}	(> i64 9007199254740993)
i64 + {x} == 10	(== (+ i64 5) 10)
json_contains_any(A, {list})	(contains_any $meta["A"] [1, 2, 3])
array_contains(arr_i64, {x})	(contains arr_i64 5)
i64 > {missing}	ERR template variable {missing} has no value in expr_template_values
i64 > {flt}	ERR cannot compare Int64 field "i64" with template variable {flt} = floating-point value 2.5
s == {x}	ERR cannot compare VarChar field "s" with template variable {x} = integer 5
{x} + 1 == i64	ERR template variable {x} cannot be combined with another constant using "+"
{x} == 1	ERR template variable {x} cannot be compared with another constant
i64 in [{x}, 2]	ERR template variable {x} cannot be used inside a list literal
i64 in {x}	ERR the right-hand side of "in" must be a list
{1x} == i64	ERR unexpected number 1
{x	ERR expected "}" to close the template variable
-{x} < i64	ERR unary "-" cannot be applied to template variable {x}
{bool}	ERR the filter must be a boolean expression, not a bare template variable {bool}
{bool} and i64 > 1	ERR "and" cannot mix a constant (template variable {bool}) with other expressions
# random_sample
random_sample(0.01)	(random_sample 0.01)
random_sample(0.9999)	(random_sample 0.9999)
RANDOM_SAMPLE(0.5)	(random_sample 0.5)
b in [true, false] && random_sample(0.01)	(random_sample 0.01 (in b [true, false]))
i8 < i16 && i16 <= 1 && random_sample(0.01)	(random_sample 0.01 (and (< i8 i16) (<= i16 1)))
(i8 < i16 || i16 <= 1) && random_sample(0.01)	(random_sample 0.01 (or (< i8 i16) (<= i16 1)))
i64 > 1 and (i64 < 9 and random_sample(0.5))	(random_sample 0.5 (and (> i64 1) (< i64 9)))
random_sample(a)	ERR random_sample needs a constant floating-point factor, not dynamic field key "a"
random_sample(1)	ERR random_sample needs a constant floating-point factor, not integer 1
random_sample(1.1)	ERR the random_sample factor must be strictly between 0 and 1, got 1.1
random_sample(0.0)	ERR the random_sample factor must be strictly between 0 and 1
random_sample(-0.5)	ERR the random_sample factor must be strictly between 0 and 1
random_sample(0.01, i8 < i16)	ERR expected ")" to close random_sample(
not random_sample(0.01)	ERR random_sample cannot be negated
(i16 - 3 == 4) || random_sample(0.01)	ERR random_sample cannot be used in an "or" expression
random_sample(0.01) and (i16 - 3 == 4)	ERR random_sample must be the last operand of an "and" expression
random_sample(0.01) or (i16 - 3 == 4)	ERR random_sample cannot be used in an "or" expression
i8 < i16 || i16 <= 1 && random_sample(0.01)	ERR random_sample cannot be used in an "or" expression
(i64 > 1 && random_sample(0.1)) && i64 < 5	ERR random_sample must be the last operand of an "and" expression
random_sample(0.5) == true	ERR cannot compare random_sample(...) with a constant
# text / phrase match and other functions
text_match(txt, "query")	ERR text_match is not supported yet
TEXT_MATCH(txt, "query")	ERR text_match is not supported yet
text_match(txt, "q", minimum_should_match=2)	ERR text_match is not supported yet
text_match(txt, "q", minimum_should_match=0)	ERR minimum_should_match must be between 1 and 1000
text_match(txt, "q", min_should_match=1)	ERR the only text_match option is minimum_should_match=N
text_match(s, "query")	ERR field "s" does not enable match
text_match(i64, "query")	ERR text_match can only be applied to VarChar fields, not Int64 field "i64"
text_match(not_exist_field, "query")	ERR text_match can only be applied to VarChar fields, not dynamic field key "not_exist_field"
text_match(txt, 5)	ERR text_match takes a quoted query string
phrase_match(txt, "phrase")	ERR phrase_match is not supported yet
phrase_match(txt, "phrase", 1)	ERR phrase_match is not supported yet
phrase_match(txt, "phrase", -1)	ERR "slop" must be a constant integer between 0 and 4294967295
phrase_match(txt, "phrase", 4294967296)	ERR "slop" must be a constant integer
phrase_match(b, "phrase")	ERR phrase_match can only be applied to VarChar fields
hello123()	ERR unknown function "hello123"
f2(i64, 4)	ERR unknown function "f2"
st_equals(geo, "POINT(0 0)")	ERR geometry function "st_equals" is not supported
ceil(pow(1.5*i32,0.58))	ERR unknown function "ceil"
# syntax errors & misc
invalid expression	ERR unexpected identifier "expression" at column 9
"constant"	ERR the filter must be a boolean expression, not a bare string "constant"
not_in_schema	ERR the filter must be a boolean expression, not dynamic field key "not_in_schema"
i64	ERR the filter must be a boolean expression, not Int64 field "i64"
b	ERR compare the Bool field explicitly, like b == true
i64 > 5 #	ERR unexpected character "#"
i64 > 5;	ERR unexpected character ";"
i64 @ 5	ERR unexpected character "@"
i64 > 5 i64 < 3	ERR unexpected identifier "i64" at column 9
[1, 2]	ERR the filter must be a boolean expression, not a bare list [1, 2]
i64 =~ "a.*"	ERR unexpected "="
i64 > 'abc'd'	ERR unterminated string literal
i64 > 5  	(> i64 5)
  i64   >   5	(> i64 5)
i64>5&&s=="x"	(and (> i64 5) (== s "x"))
id == 1	(== id 1)
id in [1, 2, 2]	(in id [1, 2, 2])
TS > ISO '2025-01-01T00:00:00Z'	ERR unexpected string "2025-01-01T00:00:00Z"
`

interface Case {
  readonly filter: string
  readonly expected: string
  readonly section: string
}

function cases(): Case[] {
  const out: Case[] = []
  let section = ''
  for (const line of GOLDEN.split('\n')) {
    if (line.trim() === '') continue
    if (line.startsWith('# ')) {
      section = line.slice(2)
      continue
    }
    const tab = line.lastIndexOf('\t')
    assert.ok(tab > 0, `malformed golden line: ${line}`)
    out.push({ filter: line.slice(0, tab), expected: line.slice(tab + 1), section })
  }
  return out
}

describe('golden filters', () => {
  const schema = fixtureSchema()
  const all = cases()

  it('has a few hundred cases, valid and invalid', () => {
    assert.ok(all.length >= 300, `only ${all.length} cases`)
    assert.ok(all.filter((c) => c.expected.startsWith('ERR ')).length >= 150)
    assert.ok(all.filter((c) => !c.expected.startsWith('ERR ')).length >= 150)
  })

  for (const c of all) {
    it(`[${c.section}] ${c.filter}`, () => {
      let plan: ReturnType<typeof parseFilter> | undefined
      let err: unknown
      try {
        plan = parseFilter(c.filter, schema, { templateValues: TEMPLATES })
      } catch (e) {
        err = e
      }
      if (c.expected.startsWith('ERR ')) {
        assert.ok(err !== undefined, `expected an error, got plan ${plan ? explainPlan(plan) : '?'}`)
        assert.ok(isDbError(err, 'ParameterInvalid'), `not a ParameterInvalid DbError: ${String(err)}`)
        const msg = (err as Error).message
        assert.ok(msg.includes(c.expected.slice(4)), `message ${JSON.stringify(msg)} lacks ${JSON.stringify(c.expected.slice(4))}`)
        assert.match(msg, / at (line \d+, )?column \d+/)
      } else {
        assert.equal(err, undefined, `unexpected error: ${String((err as Error | undefined)?.message)}`)
        assert.equal(explainPlan(plan!), c.expected)
      }
    })
  }
})
