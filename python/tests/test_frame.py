"""Unit tests of SharedFrame in Python: validity bitmaps, staging rules, concurrent appends from
threads, and exactly which pandas columns are views (the table in docs/python.md)."""
import random
import threading
import unittest

import numpy as np

import shmframe

try:
    import pandas as pd
except ImportError:  # pragma: no cover
    pd = None


def heap(size="64M"):
    return shmframe.Heap.create(size)


class Validity(unittest.TestCase):
    def test_row_ranges_of_every_alignment_write_exactly_their_bits(self):
        h = heap()
        f = shmframe.SharedFrame.create(h, {"x": "f8"}, capacity=300)
        store, payload = f._store, f._ref.payload()
        col = store.column(0)
        rnd = random.Random(3)
        expected = np.zeros(300, bool)
        for _ in range(300):
            start = rnd.randrange(300)
            n = rnd.randrange(0, min(100, 300 - start) + 1)
            flags = np.array([rnd.random() < 0.5 for _ in range(n)], bool)
            store.write_validity(payload, col, start, n, flags)
            expected[start : start + n] = flags
            self.assertTrue(np.array_equal(store.valid_bits(payload, col, 0, 300), expected), (start, n))
        f.close()


class Staging(unittest.TestCase):
    def setUp(self):
        self.h = heap()
        self.f = shmframe.SharedFrame.create(
            self.h,
            {"u1": "u1", "i8": "i8", "f4": "f4", "b": "bool", "ms": "M8[ms]", "s": "S3", "t": "utf8", "c": "category"},
            capacity=64,
        )

    def tearDown(self):
        self.f.close()

    def test_values_that_fit_are_stored_exactly(self):
        f = self.f
        f.append(
            {
                "u1": np.array([0, 255], "i8"),
                "i8": [-(2**63), 2**63 - 1],
                "f4": [1.5, float("nan")],
                "b": [True, 0],
                "ms": ["2024-02-29T12:00:00.123", np.datetime64("1969-12-31T23:59:59.999", "ms")],
                "s": ["ab", b"xyz"],
                "t": ["ünï", ""],
                "c": ["a", "a"],
            }
        )
        self.assertEqual(f.col("u1").tolist(), [0, 255])
        self.assertEqual(f.col("i8").tolist(), [-(2**63), 2**63 - 1])
        self.assertTrue(np.isnan(f.col("f4")[1]) and not f.is_null(1, "f4"), "a NaN in a list is a value")
        self.assertEqual(f.col("b").tolist(), [True, False])
        self.assertEqual(f.col("ms").astype("<i8").tolist(), [1709208000123, -1])
        self.assertEqual(f.col("s").tolist(), [b"ab", b"xyz"])
        self.assertEqual(f.strings("t"), ["ünï", ""])
        self.assertEqual(f.codes("c").tolist(), [0, 0])

    def test_values_that_do_not_fit_are_refused_and_nothing_changes(self):
        f = self.f
        for column, values in [
            ("u1", [256]),
            ("u1", [-1]),
            ("u1", np.array([1.5])),
            ("i8", [2**63]),
            ("b", [2]),
            ("s", ["abcd"]),
            ("t", [3]),
            ("c", [3.5]),
            ("ms", [12]),
            ("f4", ["x"]),
        ]:
            with self.assertRaises(shmframe.InvalidArgumentError, msg=f"{column} {values}"):
                f.append({column: values})
        self.assertEqual(f.length, 0)
        self.assertEqual(self.h.stats()["objects"], 1)

    @unittest.skipIf(pd is None, "pandas is not installed")
    def test_pandas_missing_values_are_nulls(self):
        f = self.f
        f.append(pd.DataFrame({"f4": [1.0, np.nan], "t": ["a", None], "ms": [pd.Timestamp("2024-01-01"), pd.NaT]}))
        self.assertEqual([f.is_null(1, c) for c in ("f4", "t", "ms", "u1")], [True, True, True, True])
        self.assertEqual([f.is_null(0, c) for c in ("f4", "t", "ms", "u1")], [False, False, False, True])


class Appends(unittest.TestCase):
    def test_threads_append_concurrently_without_interleaving_rows(self):
        h = heap()
        f = shmframe.SharedFrame.create(h, {"k": "i4", "i": "i4", "t": "utf8"}, capacity=4 * 50 * 10)

        def work(k):
            for batch in range(10):
                f.append({"k": [k] * 50, "i": list(range(batch * 50, batch * 50 + 50)), "t": [f"{k}:{j}" for j in range(50)]})

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.assertEqual(f.length, 2000)
        ks, iv, ts = f.col("k"), f.col("i"), f.strings("t")
        for start in range(0, 2000, 50):
            self.assertEqual(len(set(ks[start : start + 50].tolist())), 1, "a batch is contiguous")
            self.assertEqual(ts[start + 7], f"{ks[start]}:7")
        for k in range(4):
            self.assertEqual(sorted(iv[ks == k].tolist()), list(range(500)))
        f.close()
        self.assertEqual(h.stats()["objects"], 0)


@unittest.skipIf(pd is None, "pandas is not installed")
class Pandas(unittest.TestCase):
    """The rules docs/python.md states: which columns to_pandas() gives as views of the heap."""

    def shares(self, df, f, name):
        arr = df[name].array
        for attr in ("_data", "_ndarray"):
            if hasattr(arr, attr):
                arr = getattr(arr, attr)
                break
        if hasattr(arr, "codes"):
            return bool(np.shares_memory(np.asarray(arr.codes), f.codes(name)))
        return bool(np.shares_memory(np.asarray(arr), f.col(name)))

    def test_views_and_copies(self):
        h = heap()
        schema = {
            "f8": "f8", "i4": "i4", "u8": "u8", "b": "bool", "ns": "M8[ns]", "ms": "M8[ms]", "s": "S4",
            "i4n": "i4", "bn": "bool", "f8n": "f8", "sn": "S4", "t": "utf8", "c": "category",
        }
        f = shmframe.SharedFrame.create(h, schema, capacity=8)
        f.append({
            "f8": [1.0, 2.0], "i4": [1, 2], "u8": [1, 2], "b": [True, False],
            "ns": [np.datetime64(1, "ns")] * 2, "ms": [np.datetime64(1, "ms")] * 2, "s": [b"a", b"b"],
            "i4n": [1, None], "bn": [True, None], "f8n": [1.0, None], "sn": [b"a", None], "t": ["x", None], "c": ["p", None],
        })
        df = f.to_pandas()
        views = {name: self.shares(df, f, name) for name in schema if name not in ("t",)}
        self.assertEqual(views, {
            "f8": True, "i4": True, "u8": True, "b": True, "ns": True, "s": True,
            "i4n": True, "bn": True, "f8n": True,
            "ms": False,   # pandas 1.5 keeps nanoseconds only
            "sn": False,   # |S<n> with nulls: objects with None
            "c": False,    # fewer than 32768 categories: pandas stores int8/int16 codes
        })
        self.assertEqual(str(df["i4n"].dtype), "Int32")
        self.assertEqual(df["t"].tolist(), ["x", None])
        self.assertTrue(df["c"].isna()[1])
        df.loc[:, "f8"] *= 2
        self.assertEqual(f.col("f8").tolist(), [2.0, 4.0], "the seed's idiom writes through")
        f.close()
        del df

    def test_categories_past_32767_keep_the_shared_codes(self):
        h = heap()
        f = shmframe.SharedFrame.create(h, {"c": "category"}, capacity=40000, categories=40000, category_bytes=400000)
        f.append({"c": [str(i) for i in range(40000)]})
        df = f.to_pandas()
        self.assertTrue(self.shares(df, f, "c"))
        f.close()
        del df

    def test_from_pandas_round_trip(self):
        h = heap()
        src = pd.DataFrame({
            "x": [1.5, np.nan, 3.0], "n": pd.array([1, None, 3], dtype="Int64"), "flag": [True, False, True],
            "when": pd.to_datetime(["2024-01-01", None, "2024-03-01"]), "name": ["a", None, "ç"],
            "tag": pd.Categorical(["u", "v", None]), "raw": [b"ab", b"", b"c"],
        })
        f = shmframe.SharedFrame.from_pandas(h, src, capacity=10)
        self.assertEqual(f.schema, [("x", "<f8"), ("n", "<i8"), ("flag", "|b1"), ("when", "<M8[ns]"), ("name", "utf8"), ("tag", "category"), ("raw", "|S2")])
        back = f.to_pandas()
        pd.testing.assert_frame_equal(back.drop(columns=["n", "raw"]), src.drop(columns=["n", "raw"]), check_dtype=False, check_categorical=False)
        self.assertEqual(back["n"].tolist(), [1, pd.NA, 3])
        self.assertEqual(back["raw"].tolist(), [b"ab", b"", b"c"])
        f.close()
        del back


if __name__ == "__main__":
    unittest.main()
