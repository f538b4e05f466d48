import sys
numbers = [int(word) for word in open(sys.argv[1]).read().split()]
print("count", len(numbers), "total", sum(numbers))
