print("pull data")
