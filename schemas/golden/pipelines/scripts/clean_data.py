print("clean data")
