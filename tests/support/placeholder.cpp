// Keeps rwkv_test_support non-empty.
